"""Training jobs without a browser: Stop keeps the best weights, Cancel discards, the queue keeps order,
identical requests share one run, a run nobody watches ends, failures are reported, all kept in the store.
What a page sees is tested on both engines: the embedded queue and RQ workers on Redis."""
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.services import REDIS_SERVER
from explorer.jobs import ABANDONED_AFTER_SECONDS, JobQueue
from explorer.redis_jobs import RedisJobQueue
from explorer.run_store import JobState, RunStore
from explorer.runs import TrainingRequest, run_id
from job_steps import LONG, SHORT, ended, state_of, wait_for
from redis_engine import forget_runs



@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store", cap_bytes=2**30)


@pytest.fixture(params=["embedded", "redis"])
def queue(request, store):
    """Both engines behind one interface: this server's threads (one slot), or RQ with one worker."""
    if request.param == "embedded":
        return JobQueue(store, slots=1)
    if not Path(REDIS_SERVER).exists():
        pytest.skip("no redis-server (Debian: apt-get install redis-server)")
    url = request.getfixturevalue("redis_with_a_worker")
    forget_runs(url)
    return RedisJobQueue(store, url)


def test_stop_keeps_the_best_weights_so_far_in_the_store(store, queue):
    run = queue.submit(LONG, "student")
    wait_for(lambda: len(queue.status(run).progress.history) >= 2)
    assert queue.stop(run, "student")
    wait_for(ended(queue, run))
    status = queue.status(run)
    assert status.state is JobState.STOPPED and "stopped by the user" in status.message and status.has_model
    card = store.card(run)
    assert 2 <= card["training"]["epochs_run"] < 200
    best = min(card["history"], key=lambda epoch: epoch["val_loss"])
    assert card["training"]["best_epoch"] == best["epoch"]
    stored = store.load(run)
    assert card["metrics"]["test"]["clean"]["images"] == len(stored.test) == 60
    assert stored.class_names == tuple(card["class_names"])
    assert [epoch["epoch"] for epoch in status.progress.history] == [epoch["epoch"] for epoch in card["history"]]


def test_cancel_discards_and_frees_the_slot_for_the_next_in_line(store, queue):
    first, second, third = (queue.submit(replace(LONG, seed=seed), owner) for seed, owner in enumerate("abc"))
    wait_for(lambda: state_of(queue, first) is JobState.RUNNING)
    assert [queue.status(run).ahead for run in (first, second, third)] == [0, 1, 2]
    assert queue.cancel(first, "a")
    wait_for(lambda: state_of(queue, second) is JobState.RUNNING)
    assert state_of(queue, first) is JobState.CANCELLED and not store.has_model(first)
    assert state_of(queue, third) is JobState.QUEUED and queue.status(third).ahead == 1, "the queue keeps its order"
    queue.cancel(third, "c")
    wait_for(lambda: state_of(queue, third) is JobState.CANCELLED)
    assert state_of(queue, second) is JobState.RUNNING
    queue.cancel(second, "b")
    wait_for(ended(queue, second))


def test_identical_requests_share_one_run_and_one_student_cannot_end_it_for_another(store, queue):
    run = queue.submit(LONG, "a")
    assert queue.submit(replace(LONG, name="another name"), "b") == run, "the display name does not change weights"
    other = queue.submit(replace(LONG, seed=1), "c")
    assert other != run
    queue.cancel(other, "c")
    assert queue.status(run).watchers == 2
    assert not queue.cancel(run, "a"), "b still watches: a only leaves the run"
    assert not queue.stop(run, "c"), "nor can a student who is not watching it"
    assert state_of(queue, run).active and queue.status(run).watchers == 1
    assert queue.cancel(run, "b")
    wait_for(ended(queue, run))
    assert state_of(queue, run) is JobState.CANCELLED
    wait_for(ended(queue, other))


def test_a_finished_run_is_joined_without_training_again(store, queue):
    run = queue.submit(SHORT, "a")
    wait_for(ended(queue, run))
    trained, version = store.card(run)["weights_sha256"], store.model_version(run)
    assert queue.submit(SHORT, "b") == run
    assert state_of(queue, run) is JobState.FINISHED, "joined as finished, not queued again"
    assert store.card(run)["weights_sha256"] == trained and store.model_version(run) == version


def test_a_restarted_server_shows_the_run_it_lost_as_interrupted_and_keeps_finished_ones(store):
    queue = JobQueue(store, slots=1)
    finished, lost = queue.submit(SHORT, "a"), run_id(LONG)
    wait_for(ended(queue, finished))
    store.start(lost, LONG)
    store.write_status(lost, state="running", name="long", origin="trained", epoch=3, epochs=200, history=[])
    restarted = JobQueue(RunStore(store.root, store.cap_bytes), slots=1)
    assert restarted.status(lost).state is JobState.INTERRUPTED and "epoch 3" in restarted.status(lost).message
    assert restarted.status(finished).state is JobState.FINISHED and restarted.store.load(finished).checkpoint.card
    run = restarted.submit(LONG, "a")
    assert run == lost and state_of(restarted, run).active, "pressing Train again re-runs an interrupted run"
    restarted.cancel(run, "a")
    wait_for(ended(restarted, run))


def test_one_active_run_per_workspace(store, queue):
    run = queue.submit(LONG, "student")
    with pytest.raises(ValueError, match="already queued or training"):
        queue.submit(replace(LONG, seed=1), "student")
    queue.cancel(run, "student")
    wait_for(ended(queue, run))
    again = queue.submit(replace(LONG, seed=1), "student")
    queue.cancel(again, "student")
    wait_for(ended(queue, again))


def seen_long_ago(queue, run: str, watcher: str) -> None:
    """The watcher's page last showed the run twice the abandonment window ago (its session ended), written
    where each engine keeps it: the run's watchers in this process, or their hash in Redis."""
    if isinstance(queue, JobQueue):
        queue.job(run).watchers[watcher] = time.monotonic() - 2 * ABANDONED_AFTER_SECONDS
    else:
        queue.redis.hset(f"explorer:watchers:{run}", watcher, time.time() - 2 * ABANDONED_AFTER_SECONDS)


def test_a_run_nobody_watches_any_more_is_stopped_and_keeps_its_weights(queue):
    run = queue.submit(LONG, "gone")
    wait_for(lambda: len(queue.status(run).progress.history) >= 1)
    seen_long_ago(queue, run, "gone")
    wait_for(ended(queue, run))
    status = queue.status(run)
    assert status.state is JobState.STOPPED and status.has_model and "nobody had watched it" in status.message


def test_a_queued_run_of_a_session_that_ended_is_cancelled_without_training(queue, store):
    running, waiting = queue.submit(LONG, "a"), queue.submit(replace(LONG, seed=1), "b")
    wait_for(lambda: state_of(queue, running) is JobState.RUNNING)
    seen_long_ago(queue, waiting, "b")  # its session stopped polling
    queue.cancel(running, "a")
    wait_for(lambda: state_of(queue, waiting) is JobState.CANCELLED)
    assert not store.has_model(waiting)


@pytest.mark.parametrize("request_, message", [
    (TrainingRequest("s1-dense-128", "digits", settings={"epochs": 2, "learning_rate": 1e12, "flip": False},
                     subset=300), "NaN"),
    (TrainingRequest("s4-conv-392", "no-such-data"), "unknown dataset"),
])
def test_failures_are_reported_not_raised(store, queue, request_, message):
    run = queue.submit(request_, "student")
    wait_for(ended(queue, run))
    status = queue.status(run)
    assert status.state is JobState.FAILED and message in status.message and not store.has_model(run)


def test_progress_shows_the_latent_space_and_reconstructions_and_the_run_keeps_its_replay(store):
    queue = JobQueue(store, slots=1)
    run = queue.submit(SHORT, "student")
    job = queue.job(run)
    wait_for(ended(queue, run))
    inputs, outputs = job.progress.samples
    assert inputs.shape == outputs.shape == (8, 1, 28, 28) and not torch.equal(inputs, outputs)
    assert [epoch["epoch"] for epoch in job.progress.history] == [1, 2] and job.state is JobState.FINISHED
    layout, labels, class_names = job.progress.probe_map
    assert layout.shape == (len(labels), 2) and class_names == tuple("0123456789")
    record = store.probe(run)
    assert record.epochs == 2 and np.array_equal(record.labels, labels)
    epoch_seconds = [epoch["seconds"] for epoch in store.card(run)["history"]]
    print(f"recording the probe: {record.seconds} s per epoch of {epoch_seconds} s")
