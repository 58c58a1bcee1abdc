"""This session's training run as seen by the pages: submit, watch, stop, and adopt the result.

The run itself is an ``explorer.jobs.TrainingJob`` in the server-wide queue; the session keeps only
its id. Watching it from any page (the sidebar polls while it is active) also tells the queue the
session is still open.
"""
from __future__ import annotations

import uuid

import streamlit as st

from explorer.card import ModelRef
from explorer.jobs import JobState, TrainingJob
from explorer.runs import TrainingRequest
from ui.models import SessionModel, add_session_model
from ui.resources import job_queue

POLL_SECONDS = 1.5


def session_id() -> str:
    return st.session_state.setdefault("session_id", uuid.uuid4().hex)


def my_job() -> TrainingJob | None:
    return job_queue().job_of(session_id())


def submit(request: TrainingRequest) -> TrainingJob:
    return job_queue().submit(request, session_id())


def status_line(job: TrainingJob) -> str:
    name = job.request.name or job.request.model
    if job.state is JobState.QUEUED:
        place = job_queue().place(job)
        return f"**{name}** waits for its turn: {place - 1} run(s) ahead of it in the server's queue"
    if job.state is JobState.RUNNING:
        progress = job.progress
        if not progress.epoch:
            return f"**{name}** is loading its data"
        return (f"**{name}**: epoch {progress.epoch}/{progress.epochs}, step {progress.step}/{progress.steps}, "
                f"loss {progress.loss:.4f}")
    return f"**{name}**: {job.state.value}. {job.message}"


def adopt_finished_job() -> None:
    """A run that ended with weights (finished or stopped) becomes this session's active model, once."""
    job = my_job()
    if job is None or job.checkpoint is None or st.session_state.get("adopted_job") == job.job_id:
        return
    st.session_state["adopted_job"] = job.job_id
    ref = ModelRef("trained", job.checkpoint.card["name"])
    add_session_model(ref, SessionModel(job.checkpoint, job.test, job.class_names))
    st.session_state["last_trained"] = ref


def _sidebar_status() -> None:
    job = my_job()
    if job is None:
        return
    job.seen()
    if not job.state.active:
        st.rerun()  # the whole app: the finished model joins the model list
    st.caption(":material/model_training: " + status_line(job))
    st.progress(job.progress.fraction)


def render_sidebar_status() -> None:
    """While a run is queued or training, the sidebar shows it on every page and keeps polling."""
    job = my_job()
    if job is not None and job.state.active:
        st.fragment(_sidebar_status, run_every=POLL_SECONDS)()
