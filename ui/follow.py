"""Follow the teacher: a presenting teacher's view is published to the lesson, and the students' pages follow it.

The teacher (opened with the lesson's teacher link) turns on **Present** in the sidebar; from then on each
run of a page publishes its view when it changed: the page and the address's parameters, as a copied link
holds them (never the workspace token, the teacher key or the lesson code). A student in the lesson sees
a bar. A fragment polls the lesson every 2 s (a ``stat`` while nothing changes) and, when the view changed,
moves the browser to it as the Back button would: Streamlit's history navigation gives every control on
the page the address's value, in the same session. A student who touches any control has a view that
differs from the one followed: they stepped away, and **Back to the teacher** follows again.
"""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode, urlparse

import streamlit as st

from explorer.lesson import Lesson
from explorer.presentation import (View, follower_counts, new_follower_id, note_follower, present, presented,
                                   presented_stamp, stop_presenting)
from ui.active_model import follow_linked_model
from ui.board import LESSON_PARAM, current_lesson, teacher_key
from ui.resources import run_store
from ui.workspace import PRIVATE_PARAMS, WORKSPACE_PARAM

NOT_IN_A_VIEW = (*PRIVATE_PARAMS, LESSON_PARAM)
POLL_SECONDS = 2.0
NOTE_SECONDS = 10.0
PRESENTING, PUBLISHED = "presenting", "published_view"
FOLLOW = "follow_the_teacher"  # this session's following: see ``Following``


class Following:
    """What a student's session knows about following: whether it follows, the view it last went to and the
    view its last full run showed, and when it last told the lesson."""

    def __init__(self) -> None:
        self.following = True
        self.went_to: View | None = None
        self.shown: View | None = None
        self.follower = new_follower_id()
        self.noted = 0.0
        self.noted_as: bool | None = None
        self.stamp: int | None = None
        self.presented: View | None = None


def current_view(page: str) -> View:
    """This page's view as a link carries it."""
    return View(page, {key: st.query_params.get_all(key) for key in sorted(st.query_params)
                       if key not in NOT_IN_A_VIEW})


def present_controls(lesson: Lesson | None) -> None:
    """In the sidebar of the lesson's teacher: the Present switch and how many students follow."""
    if lesson is None or lesson.ended or not lesson.is_teacher(teacher_key()):
        return
    was_on = st.session_state.get(PRESENTING, False)
    if st.toggle("Present to the class", key=PRESENTING, help="Every change of your view (page, model, map, "
                 "layers, noise, selection) reaches the students who follow this lesson within about 2 s. "
                 "Your workspace and your teacher key stay in your own link."):
        class_following(lesson.code)
    elif was_on:
        stop_presenting(run_store(), lesson, teacher_key())
        st.session_state.pop(PUBLISHED, None)


@st.fragment(run_every=5)
def class_following(code: str) -> None:
    following, away = follower_counts(run_store(), code)
    st.caption(f"Presenting: {following} following, {away} stepped away")


def publish(page: str) -> None:
    """After a run of the teacher's page: its view goes to the lesson if it differs from the one last published
    (a run that changed nothing reads and writes nothing)."""
    if not st.session_state.get(PRESENTING):
        return
    view = current_view(page)
    if view.same_as(st.session_state.get(PUBLISHED)):
        return
    lesson = current_lesson()
    if lesson is not None and not lesson.ended:
        st.session_state[PUBLISHED] = present(run_store(), lesson, teacher_key(), view)


def follow_the_teacher(page: str, lesson: Lesson | None) -> None:
    """Before a student's page is drawn: notice whether they stepped away, bring the teacher's model along after
    a move, and show the bar whose fragment polls the lesson."""
    if lesson is None or lesson.ended or lesson.is_teacher(teacher_key()):
        return
    state: Following = st.session_state.setdefault(FOLLOW, Following())
    view = current_view(page)
    if state.following and state.went_to is not None:
        if view.same_as(state.went_to):
            if not view.same_as(state.shown):  # the first run after a move: what the address alone cannot set
                follow_linked_model()
                st.session_state.pop("map_selection", None)
        else:
            state.following = False
    state.shown = view
    following_bar(lesson.code)


@st.fragment(run_every=POLL_SECONDS)
def following_bar(code: str) -> None:
    state: Following = st.session_state[FOLLOW]
    shown = _presented(state, code)
    now = time.monotonic()
    if now - state.noted > NOTE_SECONDS or state.noted_as != state.following:
        note_follower(run_store(), code, state.follower, state.following)
        state.noted, state.noted_as = now, state.following
    if shown is None:
        return
    if state.following:
        st.info("**Following the teacher**: this page shows the teacher's view and moves with it. Touch any control "
                "to explore on your own; your models and runs stay yours.", icon=":material/cast_for_education:")
        if not shown.same_as(state.shown) and not shown.same_as(state.went_to):
            _go_to(state, shown)
        return
    away, back = st.columns([4, 1], vertical_alignment="center")
    away.warning("You stepped away from the teacher's view: this page is yours until you go back.",
                 icon=":material/explore:")
    if back.button("Back to the teacher", icon=":material/cast_for_education:"):
        state.following = True
        _go_to(state, shown)


def _presented(state: Following, code: str) -> View | None:
    """The presented view, read again only when its file changed."""
    stamp = presented_stamp(run_store(), code)
    if stamp != state.stamp:
        state.stamp, state.presented = stamp, presented(run_store(), code) if stamp is not None else None
    return state.presented


def _go_to(state: Following, view: View) -> None:
    """Move this browser to the view as Back and Forward do: Streamlit gives every bound control the address's
    value (and the default to one the address leaves out), in this session."""
    state.went_to = view
    own = {WORKSPACE_PARAM: st.query_params.get(WORKSPACE_PARAM, ""), LESSON_PARAM: st.query_params.get(LESSON_PARAM, "")}
    query = urlencode([*((key, value) for key, values in view.params.items() for value in values),
                       *((key, value) for key, value in own.items() if value)])
    target = f"{_app_root(state.shown.page if state.shown else '')}{view.page}?{query}"
    st.html(f"""<script>
        window.parent.history.pushState({{}}, "", {json.dumps(target)});
        window.parent.dispatchEvent(new PopStateEvent("popstate", {{state: {{}}}}));
        /* view {view.version} */
    </script>""", unsafe_allow_javascript=True, width="content")


def _app_root(page: str) -> str:
    """The app's path on its server ('/' here, '/some/prefix/' behind a proxy), from the address of ``page``."""
    path = urlparse(st.context.url or "/").path
    if page and path.rstrip("/").endswith("/" + page):
        path = path.rstrip("/")[: -len(page)]
    return path if path.endswith("/") else path + "/"
