"""This workspace's training run as seen by the pages: submit, watch, stop, and adopt the result.

The run itself lives in the server-wide queue and the run store; the workspace keeps only its id, so
any page, a reloaded tab or another device with the link shows it. Watching it (the sidebar polls
while it is active) also tells the queue that someone still wants it.
"""
from __future__ import annotations

import streamlit as st

from explorer.card import ModelRef
from explorer.jobs import RunStatus
from explorer.run_store import JobState
from explorer.limits import client_address
from explorer.runs import TrainingRequest
from ui.active_model import make_active_when_drawn
from ui.board import put_on_board
from ui.resources import job_queue
from ui.workspace import save, workspace

POLL_SECONDS = 1.5


def my_run() -> RunStatus | None:
    """The run this workspace last asked for, as the queue or the store has it now."""
    kept = workspace()
    return job_queue().status(kept.current_run, watcher=kept.token) if kept.current_run else None


def where_runs_train() -> str:
    """This server's threads, or the workers of a Redis queue (explorer.redis_jobs)."""
    return job_queue().describe()


def submit(request: TrainingRequest, group: str | None = None) -> None:
    """Start the run, or join the identical run someone already queued, trained or is training; in a lesson,
    the run goes on its board (under the template's ``group`` when a group button started it)."""
    kept = workspace()
    run = job_queue().submit(request, kept.token, this_client())
    kept.current_run = run
    kept.add_run(run)
    save(kept)
    put_on_board(run, group)


def this_client() -> str | None:
    """This session's address, as the shipped proxy forwards it (explorer.limits.client_address)."""
    return client_address(st.context.ip_address, st.context.headers.get("X-Forwarded-For"))


def stop_my_run() -> None:
    _leave_or_end(job_queue().stop, "Stop")


def cancel_my_run() -> None:
    _leave_or_end(job_queue().cancel, "Cancel")


def _leave_or_end(end, button: str) -> None:
    """Others watching the same run keep it: this student only stops watching (a stopped run's model still
    arrives in their list when it finishes; a cancelled one leaves it)."""
    kept = workspace()
    try:
        if end(kept.current_run, kept.token):
            return
    except ValueError as error:  # the Redis engine's queue is out of reach
        st.session_state["left_run_message"] = f"Could not {button.lower()} the run: {error}."
        return
    st.session_state["left_run_message"] = (
        "Other students are training this same run, so it goes on for them"
        + ("; its model will appear in your list when it finishes." if button == "Stop" else "; you have left it."))
    if button == "Cancel":
        kept.runs.remove(kept.current_run)
    kept.current_run = None
    save(kept)


def status_line(status: RunStatus) -> str:
    name = status.name
    if status.state is JobState.QUEUED:
        return (f"**{name}** waits for its turn: {status.ahead} run(s) ahead of it (training now or queued before it)"
                + (f". {status.message}" if status.message else ""))
    if status.state is JobState.RUNNING:
        progress = status.progress
        if not progress.epoch:
            return f"**{name}** is loading its data"
        shared = f" · watched by {status.watchers} students" if status.watchers > 1 else ""
        return (f"**{name}**: epoch {progress.epoch}/{progress.epochs}, step {progress.step}/{progress.steps}, "
                f"loss {progress.loss:.4f}{shared}" + (f". {status.message}" if status.message else ""))
    return f"**{name}**: {status.state.value}. {status.message}"


def adopt_finished_run() -> None:
    """A run that ended with weights (finished or stopped) becomes the active model, once per workspace."""
    kept = workspace()
    run = kept.current_run
    if run is None or run in kept.adopted:
        return
    status = job_queue().status(run)
    if status is None or status.state.active or not status.has_model:
        return
    kept.adopted.append(run)
    save(kept)
    make_active_when_drawn(ModelRef("trained", run))


def _sidebar_status() -> None:
    status = my_run()
    if status is None:
        return
    if not status.state.active:
        st.rerun()  # the whole app: the finished model joins the model list
    st.caption(":material/model_training: " + status_line(status))
    st.progress(status.progress.fraction)


def render_sidebar_status() -> None:
    """While a run is queued or training, the sidebar shows it on every page and keeps polling."""
    status = my_run()
    if status is not None and status.state.active:
        st.fragment(_sidebar_status, run_every=POLL_SECONDS)()
