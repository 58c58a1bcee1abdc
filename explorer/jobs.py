"""Training runs as background jobs: a worker thread per run, a server-wide queue, Stop and Cancel.

A Streamlit script run ends whenever its user presses a button or opens another page, so a run that
must outlive clicks lives here, outside any script: the page submits a request, then polls the job's
progress. At most ``slots`` jobs train at once (one per core pair by default); the rest wait in
order. A training thread runs at the lowest CPU priority, so pages of other users stay responsive.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum

import torch

from .checkpoint import Checkpoint
from .datasets import ImageSet
from .inference import reconstruct_all
from .models import model_info
from .runs import TrainingFailed, TrainingRequest, train_checkpoint
from .training import EpochReport, StepReport

LOWEST_PRIORITY = 19
SAMPLE_IMAGES = 6
# A page watching a job reports every few seconds; browsers slow timers of hidden tabs to once a minute.
ABANDONED_AFTER_SECONDS = 180.0


def default_slots() -> int:
    """Concurrent runs a machine affords: one per two cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


@dataclass
class Progress:
    """What a page shows while a run goes on; replaced whole, so a reader never sees half an update."""

    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    history: tuple[dict, ...] = ()
    samples: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def fraction(self) -> float:
        if not self.epochs or not self.steps:
            return 0.0
        return min(((self.epoch - 1) + self.step / self.steps) / self.epochs, 1.0)


@dataclass
class TrainingJob:
    request: TrainingRequest
    owner: str
    state: JobState = JobState.QUEUED
    progress: Progress = field(default_factory=Progress)
    checkpoint: Checkpoint | None = None
    message: str = ""
    test: ImageSet | None = None  # the test split and class names the model is explored on, once loaded
    class_names: tuple[str, ...] = ()
    last_seen: float = field(default_factory=time.monotonic)
    abandoned_after: float = ABANDONED_AFTER_SECONDS
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # unlike id(), never reused by another job
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def stop(self) -> None:
        """End the run after the current step; the best weights so far become the model."""
        self._stop.set()

    def cancel(self) -> None:
        """End the run (or leave the queue) and discard everything it learned."""
        self._cancel.set()
        self._stop.set()

    def seen(self) -> None:
        """Its session is still open (a page showed it): keeps it from being cancelled as abandoned."""
        self.last_seen = time.monotonic()

    @property
    def cancelled(self) -> bool:
        if time.monotonic() - self.last_seen > self.abandoned_after:
            self.cancel()  # nobody has looked for minutes: the session ended, so the run burns CPU for no one
        return self._cancel.is_set()

    def _should_stop(self) -> bool:
        return self.cancelled or self._stop.is_set()

    def _run(self) -> None:
        sample: dict = {}
        self._epochs = self.request.config().epochs

        def on_start(model, splits) -> None:
            sample["model"] = model
            self.test, self.class_names = splits.test, splits.class_names
            sample["images"] = splits.val.take(range(min(SAMPLE_IMAGES, len(splits.val)))).as_tensor()

        def on_step(report: StepReport) -> None:
            self.progress = Progress(report.epoch, self._epochs, report.step, report.steps,
                                     report.loss, self.progress.history, self.progress.samples)

        def on_epoch(report: EpochReport) -> None:
            model = sample["model"]
            samples = self.progress.samples
            if model_info(self.request.model).is_autoencoder:
                samples = (sample["images"], reconstruct_all(model, sample["images"]))
                model.train()
            progress = self.progress
            self.progress = Progress(progress.epoch, progress.epochs, progress.step, progress.steps, progress.loss,
                                     progress.history + (vars(report),), samples)

        try:
            self.checkpoint = train_checkpoint(self.request, self.request.name or self.request.model,
                                               on_step=on_step, on_epoch=on_epoch, should_stop=self._should_stop,
                                               on_start=on_start)
        except TrainingFailed as error:
            self.state, self.message = JobState.FAILED, f"Training failed: {error}"
            return
        except Exception as error:  # bad data or settings: reported on the page, never a traceback
            self.state, self.message = JobState.FAILED, f"Training could not run: {error}"
            return
        if self.cancelled:
            self.checkpoint, self.state, self.message = None, JobState.CANCELLED, "Cancelled; nothing was kept."
        else:
            self.state = JobState.STOPPED if self._stop.is_set() else JobState.FINISHED
            self.message = self.checkpoint.card["training"]["stop_reason"]


class JobQueue:
    """Server-wide: at most ``slots`` jobs train at once, the others wait first come, first served."""

    def __init__(self, slots: int | None = None):
        self.slots = slots or default_slots()
        self._waiting: list[TrainingJob] = []
        self._running: list[TrainingJob] = []
        self._latest: dict[str, TrainingJob] = {}
        self._changed = threading.Condition()

    def submit(self, request: TrainingRequest, owner: str) -> TrainingJob:
        """Queue a run for ``owner`` (a session); one active run per owner."""
        with self._changed:
            current = self._latest.get(owner)
            if current is not None and current.state.active:
                raise ValueError("a run of yours is already queued or training: stop or cancel it first")
            job = TrainingJob(request, owner)
            self._latest[owner] = job
            self._waiting.append(job)
        threading.Thread(target=self._work, args=(job,), name=f"training-{owner[:8]}", daemon=True).start()
        return job

    def job_of(self, owner: str) -> TrainingJob | None:
        return self._latest.get(owner)

    def place(self, job: TrainingJob) -> int:
        """0 while training, else 1 + the number of runs ahead of it in the queue."""
        with self._changed:
            return 0 if job in self._running else 1 + self._waiting.index(job) if job in self._waiting else 0

    def _work(self, job: TrainingJob) -> None:
        with self._changed:
            while not job.cancelled and (self._waiting[0] is not job or len(self._running) >= self.slots):
                self._changed.wait(0.5)
            self._waiting.remove(job)
            if job.cancelled:
                job.state, job.message = JobState.CANCELLED, "Cancelled while waiting; nothing was kept."
                self._changed.notify_all()
                return
            self._running.append(job)
            job.state = JobState.RUNNING
        try:
            _lower_this_thread_priority()
            job._run()
        finally:
            with self._changed:
                self._running.remove(job)
                self._changed.notify_all()


def _lower_this_thread_priority() -> None:
    """Linux gives each thread its own nice value; elsewhere the run keeps normal priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
    except (AttributeError, OSError):
        pass
