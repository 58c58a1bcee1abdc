"""A student's workspace: their runs, uploaded checkpoints and Train form, kept on disk under a token.

The token is unguessable and travels in the app's address (``?ws=``), so a reload, a new tab, another
device with the same link, or the app after a server restart finds the same work. The workspace holds
only run ids; the runs themselves live in the run store, where identical runs are kept once.
"""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .checkpoint import atomic_write
from .run_store import RunStore

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")


def new_token() -> str:
    """128 random bits: a link is the only key to a workspace, so it must not be guessable."""
    return secrets.token_urlsafe(16)


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

    def add_run(self, run: str) -> None:
        if run in self.runs:
            self.runs.remove(run)
        self.runs.append(run)


def _file(store: RunStore, token: str) -> Path:
    if not is_token(token):
        raise ValueError(f"{token!r} is not a workspace token")
    return store.root / "workspaces" / f"{token}.json"


def load_workspace(store: RunStore, token: str) -> Workspace:
    """The workspace as last saved (empty if new); runs the store no longer has are left out."""
    try:
        saved = json.loads(_file(store, token).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return Workspace(token)
    known = ("runs", "current_run", "adopted", "form", "shared", "lesson", "nickname")
    workspace = Workspace(token, **{key: saved[key] for key in known if key in saved})
    workspace.runs = [run for run in workspace.runs if store.status(run) is not None]
    workspace.shared = [run for run in workspace.shared if store.status(run) is not None]
    if workspace.current_run and store.status(workspace.current_run) is None:
        workspace.current_run = None
    return workspace


def save_workspace(store: RunStore, workspace: Workspace) -> None:
    fields = asdict(workspace)
    del fields["token"]
    atomic_write(_file(store, workspace.token), json.dumps(fields).encode())
