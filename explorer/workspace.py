"""A student's workspace: their runs, uploaded checkpoints and Train form, kept on disk under a token.

The token is unguessable and travels in the app's address (``?ws=``), so a reload, a new tab, another
device with the same link, or the app after a server restart finds the same work. The workspace holds
only run ids; the runs themselves live in the run store, where identical runs are kept once.

Two tabs (or two app replicas) may change one workspace at once, so a save writes only what this copy
changed since it was loaded, onto the file as it is now, under the store's lock: a run one tab submitted
is not dropped by the other tab saving its form. A file that cannot be read is set aside, never overwritten.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from .files import atomic_write
from .run_store import RunStore

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")
SAVED_FIELDS = ("runs", "current_run", "adopted", "form", "shared", "lesson", "nickname")
LIST_FIELDS = ("runs", "adopted", "shared")
log = logging.getLogger(__name__)


def new_token() -> str:
    """128 random bits: a link is the only key to a workspace, so it must not be guessable."""
    return secrets.token_urlsafe(16)


def owner_of(token: str) -> str:
    """How the board and the store tell workspaces apart without keeping the token that opens one."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def is_token(text: str | None) -> bool:
    return bool(text) and TOKEN_PATTERN.fullmatch(text) is not None


@dataclass
class Workspace:
    token: str
    runs: list[str] = field(default_factory=list)  # trained and uploaded, oldest first
    current_run: str | None = None  # the last run this workspace asked for: the Train page and sidebar watch it
    adopted: list[str] = field(default_factory=list)  # runs whose model already became the active one, once
    form: dict = field(default_factory=dict)  # the Train form's values
    shared: list[str] = field(default_factory=list)  # runs of others, opened from the class board (read-only)
    lesson: str | None = None  # the lesson whose board this workspace's runs go on
    nickname: str = ""  # how the board names this student

    loaded: dict = field(default_factory=dict, repr=False, compare=False)  # the saved fields as read from disk
    damaged: str | None = field(default=None, compare=False)  # where an unreadable file was set aside

    def saved_fields(self) -> dict:
        return copy.deepcopy({key: getattr(self, key) for key in SAVED_FIELDS})

    def add_run(self, run: str) -> None:
        if run in self.runs:
            self.runs.remove(run)
        self.runs.append(run)


def _file(store: RunStore, token: str) -> Path:
    if not is_token(token):
        raise ValueError(f"{token!r} is not a workspace token")
    return store.root / "workspaces" / f"{token}.json"


def _read(store: RunStore, token: str) -> tuple[dict, str | None]:
    """The saved fields, and where a damaged file was set aside (it is kept for whoever can mend it)."""
    path = _file(store, token)
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
        return {key: saved[key] for key in SAVED_FIELDS if key in saved}, None
    except FileNotFoundError:
        return {}, None
    except (ValueError, UnicodeDecodeError) as error:
        aside = path.with_name(f"{token}.damaged-{int(time.time())}.json")
        path.replace(aside)
        log.warning("workspace file %s cannot be read (%s); set aside as %s", path, error, aside.name)
        return {}, aside.name


def load_workspace(store: RunStore, token: str) -> Workspace:
    """The workspace as last saved (empty if new); runs the store no longer has are left out."""
    saved, damaged = _read(store, token)
    try:
        workspace = Workspace(token, **saved)
    except TypeError:
        workspace = Workspace(token)
    workspace.damaged = damaged
    workspace.loaded = workspace.saved_fields()
    workspace.runs = [run for run in workspace.runs if store.status(run) is not None]
    workspace.shared = [run for run in workspace.shared if store.status(run) is not None]
    if workspace.current_run and store.status(workspace.current_run) is None:
        workspace.current_run = None
    return workspace


def save_workspace(store: RunStore, workspace: Workspace) -> None:
    """Write what this copy changed since it was loaded onto the file as it is now (see the module's doc)."""
    mine = workspace.saved_fields()
    with store.locked(f"workspace-{workspace.token}"):
        current, _ = _read(store, workspace.token)
        loaded = workspace.loaded or Workspace(workspace.token).saved_fields()
        merged = {}
        for key in SAVED_FIELDS:
            if key in LIST_FIELDS:
                merged[key] = _merged_list(loaded[key], mine[key], current.get(key, []))
            else:
                merged[key] = mine[key] if mine[key] != loaded[key] else current.get(key, mine[key])
        atomic_write(_file(store, workspace.token), json.dumps(merged).encode())
    workspace.loaded = copy.deepcopy(merged)


def _merged_list(loaded: list, mine: list, current: list) -> list:
    """``current`` with what this copy added (at the end, in its order) and without what it removed."""
    removed = set(loaded) - set(mine)
    kept = [item for item in current if item not in removed]
    moved = [item for item in mine if item not in loaded or mine.index(item) != loaded.index(item)]
    return [item for item in kept if item not in moved] + moved
