"""A lesson: a class's runs side by side on one board, named by a code in the link (``?lesson=...``).

A teacher starts a lesson (optionally from a template: one seed experiment split across groups) and
shares its link; every run a student in the lesson trains joins its board, under the nickname the
student picked, unless the student keeps it out. Two lessons on one server never see each other's runs.
The board names students by nickname and their workspaces by a digest, never by the token that opens them.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .card import CONDITION_LABELS
from .checkpoint import atomic_write
from .run_store import RunStore
from .runs import S3_CORRUPTIONS, SEED_PRESETS, TrainingRequest, quick_variant
from .workspace import TOKEN_PATTERN

ANONYMOUS = "anonymous"
_S3 = SEED_PRESETS["S3: Anello denoising on Fashion-MNIST"]
_S2 = SEED_PRESETS["S2: metric learning on CIFAR-10"]
# S3's recipe on a sixth of the data: ~25 s a group on 2 cores, test SSIM ~0.5 (the quick variant's 24 steps
# leave it at 0.05, untrained).
S3_LESSON_IMAGES = 10_000
# Each template: group name -> the run that group trains with one click.
TEMPLATES: dict[str, dict[str, TrainingRequest]] = {
    "S3 in class": {f"S3, trained on {CONDITION_LABELS[corruption]}": replace(
        _S3, noise=None if corruption == "clean" else corruption, name=f"S3 {CONDITION_LABELS[corruption]}",
        subset=S3_LESSON_IMAGES) for corruption in S3_CORRUPTIONS},
    "S2 in class": {f"S2, {classes} classes": quick_variant(
        replace(_S2, dataset="fashion-mnist", classes=classes, name=f"S2 {classes} classes")) for classes in (4, 7, 10)},
}


def owner_of(token: str) -> str:
    """How the board tells workspaces apart without showing the token that opens one."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass
class BoardEntry:
    run: str
    nickname: str
    owner: str
    group: str | None = None
    hidden: bool = False


@dataclass
class BoardRow:
    run: str
    nicknames: list[str]
    group: str | None


@dataclass
class Lesson:
    code: str
    template: str | None = None
    entries: list[BoardEntry] = field(default_factory=list)

    def rows(self) -> list[BoardRow]:
        """What the board shows, one row per run in the order runs joined: students who asked for the same run
        share its row; a student's hidden entry drops only that student's name."""
        rows: dict[str, BoardRow] = {}
        for entry in self.entries:
            if entry.hidden:
                continue
            row = rows.setdefault(entry.run, BoardRow(entry.run, [], entry.group))
            row.nicknames.append(entry.nickname)
            row.group = row.group or entry.group
        return list(rows.values())

    def groups(self) -> dict[str, TrainingRequest]:
        return TEMPLATES.get(self.template or "", {})


def _file(store: RunStore, code: str) -> Path:
    if not TOKEN_PATTERN.fullmatch(code or ""):
        raise ValueError(f"{code!r} is not a lesson code")
    return store.root / "lessons" / f"{code}.json"


def start_lesson(store: RunStore, template: str | None = None) -> Lesson:
    if template is not None and template not in TEMPLATES:
        raise ValueError(f"unknown lesson template {template!r}; known: {', '.join(TEMPLATES)}")
    lesson = Lesson(secrets.token_urlsafe(16), template)
    _save(store, lesson)
    return lesson


def load_lesson(store: RunStore, code: str) -> Lesson | None:
    """The lesson, or None when no lesson has this code."""
    try:
        saved = json.loads(_file(store, code).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return Lesson(code, saved.get("template"), [BoardEntry(**entry) for entry in saved.get("entries", [])])


def _save(store: RunStore, lesson: Lesson) -> None:
    atomic_write(_file(store, lesson.code), json.dumps({"template": lesson.template,
                                                         "entries": [asdict(e) for e in lesson.entries]}).encode())


def add_run(store: RunStore, code: str, entry: BoardEntry) -> None:
    """Put a run on the lesson's board (again: a student who re-runs it appears once, with the latest name)."""
    with store.locked(f"lesson-{code}"):  # app replicas too: an entry is never lost to a race
        lesson = load_lesson(store, code)
        if lesson is None:
            raise ValueError(f"there is no lesson {code!r} on this server")
        same = [i for i, e in enumerate(lesson.entries) if (e.run, e.owner) == (entry.run, entry.owner)]
        if same:
            lesson.entries[same[0]] = entry
        else:
            lesson.entries.append(entry)
        _save(store, lesson)


def set_hidden(store: RunStore, code: str, run: str, owner: str, hidden: bool) -> None:
    """Keep one's own run out of the board, or put it back; nobody else's entry changes."""
    with store.locked(f"lesson-{code}"):
        lesson = load_lesson(store, code)
        if lesson is None:
            return
        lesson.entries = [replace(e, hidden=hidden) if (e.run, e.owner) == (run, owner) else e for e in lesson.entries]
        _save(store, lesson)
