"""Training jobs without a browser: Stop keeps the best weights, Cancel discards, the queue keeps order,
an abandoned session's run is cancelled, failures are reported."""
import time

import pytest
import torch

from explorer.jobs import JobQueue, JobState
from explorer.runs import TrainingRequest

LONG = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 200}, subset=300)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_stop_keeps_the_best_weights_so_far():
    queue = JobQueue(slots=1)
    job = queue.submit(LONG, "student")
    wait_for(lambda: len(job.progress.history) >= 2)
    job.stop()
    wait_for(lambda: not job.state.active)
    assert job.state is JobState.STOPPED and "stopped by the user" in job.message
    card = job.checkpoint.card
    assert 2 <= card["training"]["epochs_run"] < 200
    best = min(card["history"], key=lambda epoch: epoch["val_loss"])
    assert card["training"]["best_epoch"] == best["epoch"]
    assert card["metrics"]["test"]["clean"]["images"] == len(job.test)


def test_cancel_discards_and_frees_the_slot_for_the_next_in_line():
    queue = JobQueue(slots=1)
    first, second, third = (queue.submit(LONG, owner) for owner in ("a", "b", "c"))
    wait_for(lambda: first.state is JobState.RUNNING)
    assert (queue.place(first), queue.place(second), queue.place(third)) == (0, 1, 2)
    assert second.state is JobState.QUEUED and third.state is JobState.QUEUED
    first.cancel()
    wait_for(lambda: second.state is JobState.RUNNING)
    assert first.state is JobState.CANCELLED and first.checkpoint is None
    assert third.state is JobState.QUEUED and queue.place(third) == 1, "the queue keeps its order"
    third.cancel()
    wait_for(lambda: third.state is JobState.CANCELLED)
    assert second.state is JobState.RUNNING
    second.cancel()
    wait_for(lambda: not second.state.active)


def test_one_active_run_per_session():
    queue = JobQueue(slots=1)
    job = queue.submit(LONG, "student")
    with pytest.raises(ValueError, match="already queued or training"):
        queue.submit(LONG, "student")
    assert queue.job_of("someone else") is None
    job.cancel()
    wait_for(lambda: not job.state.active)
    queue.submit(TrainingRequest("s4-conv-392", "digits", settings={"epochs": 1}, subset=300), "student")


def test_a_run_nobody_watches_any_more_is_cancelled():
    queue = JobQueue(slots=1)
    job = queue.submit(LONG, "gone")
    wait_for(lambda: job.progress.epoch >= 1)
    job.abandoned_after = 0.2
    time.sleep(0.3)
    wait_for(lambda: not job.state.active)
    assert job.state is JobState.CANCELLED and job.checkpoint is None


def test_a_queued_run_of_a_session_that_ended_is_cancelled_without_training():
    queue = JobQueue(slots=1)
    running, waiting = queue.submit(LONG, "a"), queue.submit(LONG, "b")
    waiting.abandoned_after = 0.2  # its session stopped polling
    wait_for(lambda: waiting.state is JobState.CANCELLED)
    running.cancel()
    wait_for(lambda: not running.state.active)


@pytest.mark.parametrize("request_, message", [
    (TrainingRequest("s1-dense-128", "digits", settings={"epochs": 2, "learning_rate": 1e12, "flip": False},
                     subset=300), "NaN"),
    (TrainingRequest("s4-conv-392", "no-such-data"), "unknown dataset"),
])
def test_failures_are_reported_not_raised(request_, message):
    queue = JobQueue(slots=1)
    job = queue.submit(request_, "student")
    wait_for(lambda: not job.state.active)
    assert job.state is JobState.FAILED and message in job.message and job.checkpoint is None


def test_progress_shows_reconstructions_of_validation_images():
    queue = JobQueue(slots=1)
    job = queue.submit(TrainingRequest("s4-conv-392", "digits", settings={"epochs": 2}, subset=300), "student")
    wait_for(lambda: not job.state.active)
    inputs, outputs = job.progress.samples
    assert inputs.shape == outputs.shape == (6, 1, 28, 28) and not torch.equal(inputs, outputs)
    assert [epoch["epoch"] for epoch in job.progress.history] == [1, 2] and job.state is JobState.FINISHED
