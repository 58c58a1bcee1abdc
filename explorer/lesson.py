"""A lesson: a class's runs side by side on one board, named by a code in the link (``?lesson=...``).

A teacher starts a lesson (optionally from a template: one seed experiment split across groups) and
shares its link; every run a student in the lesson trains joins its board, under the nickname the
student picked, unless the student keeps it out. Two lessons on one server never see each other's runs.
The board names students by nickname and their workspaces by a digest, never by the token that opens them.

The teacher who starts a lesson gets a teacher key besides its code: it travels only in the teacher's own
link (``&teacher=...``) and lets them moderate the board: hide one student's entry, rename a run's row, take a
run off the lesson, end the lesson (its board stays readable; nothing joins it any more, and its runs are no
longer kept from the store's cap). The lesson file keeps only the key's digest. A damaged entry in the file
costs its own row, never the board.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .card import CONDITION_LABELS
from .files import atomic_write
from .names import NICKNAME_CHARACTERS, RUN_NAME_CHARACTERS, plain_name
from .run_store import RunStore
from .runs import S3_CORRUPTIONS, SEED_PRESETS, TrainingRequest, quick_variant
from .workspace import TOKEN_PATTERN, owner_of  # noqa: F401 (the board's owners)

ANONYMOUS = "anonymous"
log = logging.getLogger(__name__)
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


class NotTheTeacher(PermissionError):
    """A moderation asked for without the lesson's teacher key."""


@dataclass
class BoardEntry:
    run: str
    nickname: str
    owner: str
    group: str | None = None
    hidden: bool = False  # kept out by the student who trained it
    hidden_by_teacher: bool = False

    def __post_init__(self):
        if not isinstance(self.run, str) or not isinstance(self.owner, str):
            raise TypeError("a board entry names its run and owner")
        self.nickname = plain_name(self.nickname, NICKNAME_CHARACTERS) or ANONYMOUS

    @classmethod
    def of_workspace(cls, run: str, nickname: str, token: str, group: str | None = None) -> BoardEntry:
        """The entry a workspace puts on the board: its owner is the token's digest, so the board (which the
        whole class reads) can tell a student's entries apart without holding what opens their workspace."""
        return cls(run, nickname, owner_of(token), group)


@dataclass
class BoardRow:
    run: str
    nicknames: list[str]
    group: str | None
    title: str | None = None  # the teacher's name for the row, shown instead of the run's own


@dataclass
class Lesson:
    code: str
    template: str | None = None
    entries: list[BoardEntry] = field(default_factory=list)
    teacher_digest: str = ""
    ended: bool = False
    titles: dict[str, str] = field(default_factory=dict)  # run -> the teacher's name for its row
    removed: list[str] = field(default_factory=list)  # runs the teacher took off the lesson
    damaged: int = 0  # entries of the file that could not be read (not saved back)

    def rows(self) -> list[BoardRow]:
        """What the board shows, one row per run in the order runs joined: students who asked for the same run
        share its row; a hidden entry drops only that student's name."""
        rows: dict[str, BoardRow] = {}
        for entry in self.entries:
            if entry.hidden or entry.hidden_by_teacher or entry.run in self.removed:
                continue
            row = rows.setdefault(entry.run, BoardRow(entry.run, [], entry.group, self.titles.get(entry.run)))
            row.nicknames.append(entry.nickname)
            row.group = row.group or entry.group
        for row in rows.values():  # a template's run goes by its group's name, whoever asked for it first
            group_request = self.groups().get(row.group or "")
            row.title = row.title or (group_request.name if group_request else None)
        return list(rows.values())

    def runs(self) -> set[str]:
        """Runs on the board (hidden ones too: their students may show them again)."""
        return {entry.run for entry in self.entries if entry.run not in self.removed}

    def is_teacher(self, key: str | None) -> bool:
        return bool(key) and bool(self.teacher_digest) and hmac.compare_digest(_digest(key), self.teacher_digest)

    def groups(self) -> dict[str, TrainingRequest]:
        return TEMPLATES.get(self.template or "", {})


def lesson_file(store: RunStore, code: str) -> Path:
    """The lesson's file; what is kept beside it (a presented view) takes its name with another suffix."""
    if not TOKEN_PATTERN.fullmatch(code or ""):
        raise ValueError(f"{code!r} is not a lesson code")
    return store.root / "lessons" / f"{code}.json"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_lesson(store: RunStore, template: str | None = None) -> tuple[Lesson, str]:
    """A new lesson and its teacher key (shown once, to the teacher who started it)."""
    if template is not None and template not in TEMPLATES:
        raise ValueError(f"unknown lesson template {template!r}; known: {', '.join(TEMPLATES)}")
    key = secrets.token_urlsafe(16)
    lesson = Lesson(secrets.token_urlsafe(16), template, teacher_digest=_digest(key))
    _save(store, lesson)
    return lesson, key


def load_lesson(store: RunStore, code: str) -> Lesson | None:
    """The lesson, or None when no lesson has this code (or its file cannot be read at all)."""
    try:
        saved = json.loads(lesson_file(store, code).read_text())
        lesson = Lesson(code, saved.get("template"), [], str(saved.get("teacher", "")), bool(saved.get("ended")),
                        {str(run): plain_name(title) for run, title in dict(saved.get("titles", {})).items()},
                        [str(run) for run in saved.get("removed", [])])
        entries = list(saved.get("entries", []))
    except (FileNotFoundError, ValueError, TypeError, AttributeError) as error:
        if not isinstance(error, FileNotFoundError):
            log.warning("lesson %s: its file cannot be read (%s)", code, error)
        return None
    for entry in entries:
        try:
            lesson.entries.append(BoardEntry(**entry))
        except TypeError as error:
            lesson.damaged += 1
            log.warning("lesson %s: a damaged board entry left out (%s)", code, error)
    return lesson


def _save(store: RunStore, lesson: Lesson) -> None:
    atomic_write(lesson_file(store, lesson.code), json.dumps({
        "template": lesson.template, "teacher": lesson.teacher_digest, "ended": lesson.ended,
        "titles": lesson.titles, "removed": lesson.removed, "entries": [asdict(e) for e in lesson.entries]}).encode())


def _change(store: RunStore, code: str, change) -> bool:
    """Apply ``change(lesson)`` under the lesson's lock (app replicas too); False when there is no such lesson."""
    with store.locked(f"lesson-{code}"):
        lesson = load_lesson(store, code)
        if lesson is None:
            return False
        change(lesson)
        _save(store, lesson)
        return True


def add_run(store: RunStore, code: str, entry: BoardEntry) -> None:
    """Put a run on the lesson's board (again: a student who re-runs it appears once, with the latest name).
    An ended lesson, or a run the teacher took off it, takes nothing; a teacher's hiding stays."""
    def put(lesson: Lesson) -> None:
        if lesson.ended or entry.run in lesson.removed:
            return
        same = [i for i, e in enumerate(lesson.entries) if (e.run, e.owner) == (entry.run, entry.owner)]
        if same:
            lesson.entries[same[0]] = replace(entry, hidden_by_teacher=lesson.entries[same[0]].hidden_by_teacher)
        else:
            lesson.entries.append(entry)

    if not _change(store, code, put):
        raise ValueError(f"there is no lesson {code!r} on this server")


def set_hidden(store: RunStore, code: str, run: str, owner: str, hidden: bool) -> None:
    """Keep one's own run out of the board, or put it back; nobody else's entry changes."""
    def hide(lesson: Lesson) -> None:
        lesson.entries = [replace(e, hidden=hidden) if (e.run, e.owner) == (run, owner) else e for e in lesson.entries]

    _change(store, code, hide)


def moderate(store: RunStore, code: str, teacher_key: str | None, change) -> None:
    """Apply a teacher's ``change(lesson)``, refused (NotTheTeacher) without the lesson's teacher key."""
    def checked(lesson: Lesson) -> None:
        if not lesson.is_teacher(teacher_key):
            raise NotTheTeacher("only the teacher who started this lesson (with the teacher's link) can do that")
        change(lesson)

    if not _change(store, code, checked):
        raise ValueError(f"there is no lesson {code!r} on this server")


def hide_entry(run: str, nickname: str, hidden: bool = True):
    """The teacher hides (or shows again) one student's name on a run's row."""
    def change(lesson: Lesson) -> None:
        lesson.entries = [replace(e, hidden_by_teacher=hidden) if (e.run, e.nickname) == (run, nickname) else e
                          for e in lesson.entries]
    return change


def rename_run(run: str, title: str):
    """The teacher names a run's row (an empty name gives the row its own name back)."""
    def change(lesson: Lesson) -> None:
        title_ = plain_name(title, RUN_NAME_CHARACTERS)
        if title_:
            lesson.titles[run] = title_
        else:
            lesson.titles.pop(run, None)
    return change


def remove_run(run: str):
    """The teacher takes a run off the lesson: its row goes, and pressing Train again does not bring it back."""
    def change(lesson: Lesson) -> None:
        if run not in lesson.removed:
            lesson.removed.append(run)
    return change


def end_lesson(lesson: Lesson) -> None:
    """The board stays readable; no run joins it any more and its runs may leave the store like any other."""
    lesson.ended = True


def runs_on_open_lessons(store: RunStore) -> set[str]:
    """Runs on the board of a lesson that has not ended: kept when the store needs room."""
    runs: set[str] = set()
    for path in (store.root / "lessons").glob("*.json"):
        lesson = load_lesson(store, path.stem)
        if lesson is not None and not lesson.ended:
            runs |= lesson.runs()
    return runs
