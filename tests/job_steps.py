"""What the job and run-store tests share: a request that trains long and one that trains briefly, polling
a condition, and a finished run put in a store without training."""
from __future__ import annotations

import time

import numpy as np

from explorer.checkpoint import Checkpoint, make_card
from explorer.datasets import ImageSet
from explorer.jobs import JobQueue
from explorer.models import create_model
from explorer.run_store import JobState, RunStore, StoredModel
from explorer.runs import TrainingRequest, run_id

LONG = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 200}, subset=300)
SHORT = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 2}, subset=300)


def wait_for(condition, timeout: float = 120.0, every: float = 0.05):
    """The condition's first true value, polled every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
    return value


def state_of(queue: JobQueue, run: str) -> JobState:
    return queue.status(run).state


def ended(queue: JobQueue, run: str):
    return lambda: not state_of(queue, run).active


def stored_model(name: str = "m", images: int = 20) -> StoredModel:
    model = create_model("s4-conv-392")
    test = ImageSet(np.random.default_rng(0).integers(0, 256, (images, 1, 28, 28), dtype=np.uint8),
                    np.arange(images) % 10)
    return StoredModel(Checkpoint(model, make_card(model, name=name, dataset="digits")), test, tuple("0123456789"))


def finished_run(store: RunStore, request: TrainingRequest, images: int = 20) -> str:
    run = run_id(request)
    store.start(run, request)
    store.save_model(run, stored_model(request.name or "m", images))
    store.write_status(run, state="finished", name="m", origin="trained", has_model=True)
    return run
