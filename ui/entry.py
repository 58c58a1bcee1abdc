"""Every page is drawn inside the app's frame (page set-up and the shared sidebar), even on a fresh server.

Streamlit decides once per process, before any script ran, whether the app is a legacy multipage app:
it is when a ``pages/`` folder sits beside the entry point. Until some run calls ``st.navigation``,
a deep link (``/latent``) runs the page file alone, without app.py (AppTest does this on every run).
app.py marks each run it starts; a page run without that mark calls ``st.navigation`` itself
(public API: it ends legacy mode for the process, so later runs go through app.py). On a session's
first run it then reruns, through app.py; later (only under AppTest) it draws the frame app.py would
have drawn instead, so the click that started the run is not lost.
"""
from __future__ import annotations

import streamlit as st

from ui.board import current_lesson
from ui.follow import follow_the_teacher
from ui.page_table import PAGES, page_spec
from ui.sidebar import render_sidebar

_ENTERED = "entered_through_app"
_FRAMED_BEFORE = "frame_drawn_before"


def navigation_pages() -> list:
    return [st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path or None,
                    default=spec.default) for spec in PAGES]


def draw_frame(page: str) -> None:
    """Page set-up, the teacher's view for a student following it, and the sidebar every page shares; app.py
    calls it before running the page (``page``: its url path)."""
    st.set_page_config(page_title="Latent-space explorer", page_icon=":material/scatter_plot:", layout="wide")
    st.session_state[_ENTERED] = st.session_state[_FRAMED_BEFORE] = True
    lesson = current_lesson()
    follow_the_teacher(page, lesson)
    render_sidebar(lesson)


def start_page(path: str) -> None:
    """The first line of every page: the frame, if app.py did not draw it, then the page's heading."""
    if not st.session_state.pop(_ENTERED, False):
        st.navigation(navigation_pages(), position="hidden")
        if not st.session_state.get(_FRAMED_BEFORE):
            st.rerun()
        draw_frame(page_spec(path).url_path)
        st.session_state.pop(_ENTERED)
    st.title(page_spec(path).heading)
