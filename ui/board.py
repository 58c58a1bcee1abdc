"""The class board: the lesson this workspace is in, its runs as table rows, and joining or leaving it.

A workspace joins a lesson by opening its link (``?lesson=CODE``) and stays in it; every run the
student trains from then on goes on the board under their nickname.
"""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from explorer.card import CONDITION_LABELS, ModelCard
from explorer.jobs import RunStatus
from explorer.run_store import JobState
from explorer.lesson import (ANONYMOUS, BoardEntry, BoardRow, Lesson, add_run, end_lesson, hide_entry, load_lesson,
                             moderate, owner_of, remove_run, rename_run, set_hidden)
from ui.resources import job_queue, run_store, stored_card
from ui.workspace import TEACHER_PARAM, save, workspace

LESSON_PARAM = "lesson"
log = logging.getLogger(__name__)


def current_lesson() -> Lesson | None:
    """The lesson of this workspace; a lesson's link makes the workspace join it."""
    kept = workspace()
    code = st.query_params.get(LESSON_PARAM)
    if code and code != kept.lesson and load_lesson(run_store(), code) is not None:
        kept.lesson = code
        save(kept)
    return load_lesson(run_store(), kept.lesson) if kept.lesson else None


def teacher_key() -> str | None:
    """The teacher key of the teacher's own link, if this session opened one: kept for the session and put back in
    the address on every page, as the workspace token is (moving between pages drops what is not bound)."""
    key = st.query_params.get(TEACHER_PARAM) or st.session_state.get(TEACHER_PARAM)
    if key:
        st.session_state[TEACHER_PARAM] = key
        if st.query_params.get(TEACHER_PARAM) != key:
            st.query_params[TEACHER_PARAM] = key
    return key


def put_on_board(run: str, group: str | None = None) -> None:
    """A run the workspace asked for joins its lesson's board (if it is in one)."""
    kept = workspace()
    if kept.lesson:
        add_run(run_store(), kept.lesson, BoardEntry.of_workspace(run, kept.nickname or ANONYMOUS, kept.token, group))


def shown_on_board(run: str) -> bool | None:
    """Whether this workspace's entry of the run is on its lesson's board (None: not in a lesson, or not entered)."""
    kept = workspace()
    lesson = load_lesson(run_store(), kept.lesson) if kept.lesson else None
    owner = owner_of(kept.token)
    entries = [entry for entry in (lesson.entries if lesson else []) if (entry.run, entry.owner) == (run, owner)]
    return (not entries[0].hidden) if entries else None


def show_on_board(run: str, shown: bool) -> None:
    kept = workspace()
    set_hidden(run_store(), kept.lesson, run, owner_of(kept.token), not shown)


def board_row(row: BoardRow) -> dict | None:
    """A run as a row of the board's table, or None if the store no longer has it; a run whose files cannot be
    read is a row saying so, and the rest of the board is drawn as usual."""
    try:
        return _board_row(row)
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("board row of run %s is damaged: %s", row.run, error)
        return {"who": ", ".join(row.nicknames), "group": row.group or "", "run": row.title or row.run, "model": "",
                "data": "", "corruption": "", "epochs": "", "state": "damaged (its files cannot be read)",
                "validation loss": [], "id": row.run, "comparable": False}


def _board_row(row: BoardRow) -> dict | None:
    status: RunStatus | None = job_queue().status(row.run)
    if status is None:
        return None
    request = run_store().request(row.run)
    figures, losses = {}, [epoch["val_loss"] for epoch in status.progress.history]
    if status.ended_with_model:
        card = ModelCard(stored_card(row.run))
        losses = [epoch["val_loss"] for epoch in card.history]
        figures = {f"SSIM {text}": card.ssim(condition) for condition, text in CONDITION_LABELS.items()
                   if card.ssim(condition) is not None}
        for classes, accuracy in card.retrieval_accuracy.items():
            figures[f"retrieval, {classes} classes"] = accuracy
        for classes, accuracy in card.metrics.get("anchor_positive_accuracy", {}).items():
            figures[f"anchor/positive, {classes} classes"] = accuracy
    return {"who": ", ".join(row.nicknames), "group": row.group or "", "run": row.title or status.name,
            "model": request["model"],
            "data": request["dataset"], "corruption": request["noise"] or "none",
            "epochs": f"{status.progress.epoch if status.state.active else len(losses)}/{status.progress.epochs}",
            "state": state_text(status), **figures, "validation loss": losses, "id": row.run,
            "comparable": status.ended_with_model}


def state_text(status: RunStatus) -> str:
    if status.state is JobState.RUNNING:
        return f"training {status.progress.fraction:.0%}"
    if status.state is JobState.QUEUED:
        return f"queued ({status.ahead} ahead)"
    return {JobState.FINISHED: "done"}.get(status.state, status.state.value)


def board_table(lesson: Lesson) -> pd.DataFrame:
    """One row per run of the lesson; ``id`` and ``comparable`` (ended with a model) are for the page, not shown."""
    rows = [row for row in (board_row(row) for row in lesson.rows()) if row is not None]
    return pd.DataFrame(rows)


def comparable_runs(table: pd.DataFrame) -> dict[str, str]:
    """The board's runs that ended with a model (what Compare offers), by id, with their names on the board."""
    if not len(table):
        return {}
    ended = table[table["comparable"]]
    return dict(zip(ended["id"], ended["run"] + " (" + ended["who"] + ")"))


def moderation(lesson: Lesson) -> None:
    """The teacher's controls (shown only with the lesson's teacher key): hide a name, rename or remove a run,
    end the lesson. Each is checked against the key again in the library."""
    rows = {row.run: row for row in lesson.rows()}
    with st.expander("Moderate the board (teacher)", icon=":material/shield_person:"):
        if rows:
            run = st.selectbox("Run", list(rows), key="moderate_run", format_func=lambda r: (
                f"{rows[r].title or stored_name(r)} ({', '.join(rows[r].nicknames)})"))
            columns = st.columns(3)
            columns[0].selectbox("Name on its row", rows[run].nicknames, key="moderate_name")
            columns[0].button("Hide this name", on_click=lambda: _moderate(lesson.code, hide_entry(
                run, st.session_state["moderate_name"])))
            columns[1].text_input("New name for the row", key="moderate_title", max_chars=60,
                                          placeholder="empty: its own name again")
            columns[1].button("Rename the run", on_click=lambda: _moderate(lesson.code, rename_run(
                run, st.session_state["moderate_title"])))
            columns[2].button("Remove it from the lesson", on_click=lambda: _moderate(lesson.code, remove_run(run)))
        if not lesson.ended:
            sure = st.checkbox("I want to end the lesson (the board stays readable; no new runs join it)",
                               key="moderate_end_sure")
            st.button("End the lesson", disabled=not sure, on_click=_moderate, args=(lesson.code, end_lesson))


def stored_name(run: str) -> str:
    status = run_store().status(run) or {}
    return str(status.get("name") or run)


def _moderate(code: str, change) -> None:
    moderate(run_store(), code, teacher_key(), change)
