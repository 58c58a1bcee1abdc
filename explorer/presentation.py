"""A teacher presenting a lesson: the view they show, published for the class to follow, and who follows.

The view is what a copied link carries (a page and its controls' values), never a workspace token or the
teacher key. It lives in the run store beside the lesson (``lessons/CODE.view``), so app replicas and a
restarted server see the same one. A follower's browser polls it by its modification time, which costs a
``stat`` while nothing changes. Each follower notes itself (``lessons/CODE.followers/ID``: following or
stepped away) every few seconds; the teacher counts the notes younger than ``RECENT_SECONDS``.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write
from .lesson import Lesson, NotTheTeacher, lesson_file
from .run_store import RunStore
from .workspace import TOKEN_PATTERN

RECENT_SECONDS = 25.0
FOLLOWING, AWAY = "following", "away"


@dataclass(frozen=True)
class View:
    page: str  # the page's url path ("" for the start page)
    params: dict[str, list[str]]  # the address's query parameters, each as its list of values
    version: int = 0

    def same_as(self, other: View | None) -> bool:
        return other is not None and (self.page, self.params) == (other.page, other.params)


def _view_file(store: RunStore, code: str) -> Path:
    return lesson_file(store, code).with_suffix(".view")


def present(store: RunStore, lesson: Lesson, teacher_key: str | None, view: View) -> View:
    """Publish the teacher's view (a new version when it changed); refused without the teacher key."""
    if not lesson.is_teacher(teacher_key):
        raise NotTheTeacher("only the teacher who started this lesson (with the teacher's link) can present")
    with store.locked(f"lesson-{lesson.code}"):
        shown = presented(store, lesson.code)
        if view.same_as(shown):
            return shown
        published = View(view.page, {key: list(values) for key, values in sorted(view.params.items())},
                         (shown.version if shown else 0) + 1)
        atomic_write(_view_file(store, lesson.code), json.dumps(
            {"page": published.page, "params": published.params, "version": published.version}).encode())
        return published


def stop_presenting(store: RunStore, lesson: Lesson, teacher_key: str | None) -> None:
    if not lesson.is_teacher(teacher_key):
        raise NotTheTeacher("only the teacher who started this lesson can stop presenting")
    _view_file(store, lesson.code).unlink(missing_ok=True)


def presented(store: RunStore, code: str) -> View | None:
    """The view the lesson's teacher presents now, or None (not presenting, or a file that cannot be read)."""
    try:
        saved = json.loads(_view_file(store, code).read_text())
        return View(str(saved["page"]), {str(key): [str(value) for value in values]
                                         for key, values in dict(saved["params"]).items()}, int(saved["version"]))
    except (FileNotFoundError, ValueError, TypeError, KeyError, AttributeError):
        return None


def presented_stamp(store: RunStore, code: str) -> int | None:
    """The view file's modification time: what a follower compares on every poll before reading anything."""
    try:
        return os.stat(_view_file(store, code)).st_mtime_ns
    except (FileNotFoundError, ValueError):
        return None


def new_follower_id() -> str:
    """A follower's name in the lesson's notes: random, so it says nothing about the student or workspace."""
    return secrets.token_urlsafe(16)


def note_follower(store: RunStore, code: str, follower: str, following: bool) -> None:
    """Say the follower is still here (its note's time) and whether it follows; a note that has not changed is
    only touched. Notes are not worth an fsync each: a lost one is written again within seconds."""
    if not TOKEN_PATTERN.fullmatch(follower):
        raise ValueError(f"{follower!r} is not a follower id")
    note = _view_file(store, code).with_suffix(".followers") / follower
    state = FOLLOWING if following else AWAY
    try:
        if note.read_text() == state:
            os.utime(note)
            return
    except FileNotFoundError:
        note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(state)


def follower_counts(store: RunStore, code: str, now: float | None = None) -> tuple[int, int]:
    """How many students follow the teacher's view, and how many stepped away, among those heard recently."""
    folder = _view_file(store, code).with_suffix(".followers")
    now = time.time() if now is None else now
    counts = {FOLLOWING: 0, AWAY: 0}
    for note in folder.glob("*") if folder.is_dir() else ():
        try:
            if now - note.stat().st_mtime <= RECENT_SECONDS and (state := note.read_text()) in counts:
                counts[state] += 1
        except OSError:
            continue
    return counts[FOLLOWING], counts[AWAY]
