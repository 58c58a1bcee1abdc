"""Keeping the run store within its cap and each workspace within its share, so one student's work never
pushes out the class's (explorer.limits names the shares, explorer.run_store does the removing).

Protected from the cap: runs queued or training, runs on the board of a lesson that has not ended, runs
opened within the recent window. Among the rest, the holder keeping the most bytes loses its least
recently used run first.
"""
from __future__ import annotations

from .lesson import runs_on_open_lessons
from .limits import WORKSPACE_MB_ENV, LimitReached, Limits
from .run_store import RunStore, StoredModel


def make_room(store: RunStore, limits: Limits) -> list[str]:
    """Bring the store under its cap where unprotected runs allow it; the removed runs' ids."""
    return store.keep_under_cap(runs_on_open_lessons(store), limits.recent_seconds)


def reserve(store: RunStore, owner: str, limits: Limits) -> None:
    """Before a workspace adds a run or an upload: its own oldest ended runs make way for it past its share,
    and a store full of protected runs refuses it (LimitReached) rather than removing someone's work."""
    protected = runs_on_open_lessons(store)
    if owner and not store.keep_owner_under(owner, limits.workspace_bytes, protected):
        raise LimitReached(f"your workspace keeps more than {limits.workspace_bytes // 2**20} MB of models, all in "
                           f"use or on a lesson's board; remove some first (set {WORKSPACE_MB_ENV} to allow more)")
    store.keep_under_cap(protected, limits.recent_seconds)
    if store.total_size() > store.cap_bytes:
        raise LimitReached(f"the server's store is full ({store.cap_bytes // 2**20} MB) of runs in use right now; "
                           "try again when some have ended")


def keep_upload(store: RunStore, model: StoredModel, owner: str, holder: str, limits: Limits) -> str:
    """An uploaded checkpoint kept in the store within its owner's share and the store's cap; its run id."""
    reserve(store, owner, limits)
    run = store.add_upload(model, owner, holder)
    make_room(store, limits)
    return run
