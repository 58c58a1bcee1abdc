"""Training runs as background jobs: a thread per training run, one server-wide queue, identical runs shared.

A Streamlit script run ends whenever its user presses a button or opens another page, so a run that
must outlive clicks lives here, outside any script: a page submits a request and gets the run's id,
then polls its status. The queue works from the run store: progress (per epoch) and the result are
written there, so a reloaded tab or a restarted server reads them there; memory holds only the runs
queued or training now, with their per-step progress. A request identical to a queued, running or
finished run joins it; several workspaces may watch one run, and Stop or Cancel act only for the last
one watching (the others keep it). At most ``slots`` runs train at once (one per core pair by
default), and a run gets its thread when it gets its slot; a training thread runs at the lowest CPU
priority, so pages of other users stay responsive.

Both engines admit a run the same way (``admit``): within its cost budget and its address's share, the
workspace's store share made room for, joining an identical run that is active or has weights; waiting runs
take turns across holders (explorer.limits), and a run past the time limit stops and keeps its best weights.
Every way a run can end, a failed save included, ends its status in the store.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from operator import methodcaller
from typing import Callable, Collection, ContextManager

import numpy as np
import torch

from .housekeeping import make_room, reserve
from .limits import Limits, Turns, fair_position
from .models import model_info
from .replay import ProbeRecorder, choose_probe
from .run_store import JobState, RunStore, StoredModel, is_active
from .runs import TrainingFailed, TrainingRequest, run_id, train_checkpoint
from .training import EpochReport, StepReport
from .workspace import owner_of

LOWEST_PRIORITY = 19
# A page watching a job reports every few seconds; browsers slow timers of hidden tabs to once a minute.
ABANDONED_AFTER_SECONDS = 180.0
CANCELLED_WAITING = "Cancelled while waiting; nothing was kept."
ONE_RUN_AT_A_TIME = "a run of yours is already queued or training: stop or cancel it first"
PAUSED = "Paused at a step's end while a shorter run, or one of a student who has trained less, has its turn."
MAX_PAUSED = 2  # runs paused mid-training keep their data in memory: at most this many at once
log = logging.getLogger(__name__)


def default_slots() -> int:
    """Concurrent runs a machine affords: one per two cores, at least one."""
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass
class Progress:
    """What a page shows while a run goes on; replaced whole, so a reader never sees half an update."""

    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    history: tuple[dict, ...] = ()
    samples: tuple[torch.Tensor, torch.Tensor] | None = None  # a few validation images and their reconstructions
    probe_map: tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None = None  # latest probe layout, labels, class names

    @property
    def fraction(self) -> float:
        if not self.epochs or not self.steps:
            return 0.0
        return min(((self.epoch - 1) + self.step / self.steps) / self.epochs, 1.0)


@dataclass(frozen=True)
class RunStatus:
    """A run as a page shows it: from memory while it is queued or training, else from the store."""

    run_id: str
    name: str
    state: JobState
    message: str
    progress: Progress
    ahead: int = 0  # while queued: the runs training now plus those queued before it; else 0
    watchers: int = 0
    has_model: bool = False

    @property
    def ended_with_model(self) -> bool:
        """Finished, or stopped with its best weights: a model to explore or compare."""
        return self.has_model and not self.state.active


@dataclass(frozen=True)
class Submitter:
    """Who asks for a run: a workspace (its token: it watches the run) from a client address (as the
    shipped proxy forwards it; None where unknown). Owners take turns in the queue by ``holder``: the
    address where known, so a student's many tabs are one holder."""

    watcher: str
    address: str | None = None

    @property
    def owner(self) -> str:
        return owner_of(self.watcher)

    @property
    def holder(self) -> str:
        return hashlib.sha256(self.address.encode()).hexdigest()[:16] if self.address else self.owner


def admit(store: RunStore, request: TrainingRequest, submitter: Submitter, limits: Limits,
          active_holders: list[str]) -> None:
    """Refuse (LimitReached, ValueError) a new run past its cost budget, its address's share of the queue or
    its workspace's share of the store; ``active_holders`` holds the holder of every queued or training run."""
    request.config().validate()
    limits.check_run_cost(request.cost())
    if submitter.address:
        limits.check_address(active_holders.count(submitter.holder))
    reserve(store, submitter.owner, limits)


class RunExecution(ABC):
    """One run as it trains: the training itself and what it writes to the store, whichever engine runs it.

    An engine decides where a run's watchers, its Stop and Cancel requests and its live progress are kept:
    in this process's memory (``ThreadRun``, the embedded queue) or in Redis, readable by every app
    replica and worker (``explorer.redis_jobs``).
    """

    def __init__(self, run_id: str, request: TrainingRequest, store: RunStore,
                 abandoned_after: float = ABANDONED_AFTER_SECONDS, time_limit: float = float("inf")):
        self.run_id, self.request, self.store, self.abandoned_after = run_id, request, store, abandoned_after
        self.time_limit = time_limit
        self.state = JobState.QUEUED
        self.progress = Progress()
        self.message = ""
        self.has_model = False
        self.worker = ""  # which process trains it, in the run's status (a Redis worker names itself)
        self._unwatched = self._timed_out = False
        self._started = float("inf")
        self.paused_seconds = 0.0

    @property
    def name(self) -> str:
        return self.request.name or self.request.model

    @abstractmethod
    def watch(self, watcher: str) -> None:
        """A page of ``watcher`` showed the run: it is still wanted."""

    @abstractmethod
    def watching(self, besides: str | None = None) -> list[str]:
        """Watchers whose page showed the run within the abandonment window."""

    @abstractmethod
    def leave(self, watcher: str) -> None:
        """``watcher`` no longer follows the run."""

    @abstractmethod
    def stop(self) -> None:
        """End the run after the current step; the best weights so far become the model."""

    @abstractmethod
    def cancel(self) -> None:
        """End the run (or leave the queue) and discard everything it learned."""

    @abstractmethod
    def stop_requested(self) -> bool: ...

    @abstractmethod
    def cancel_requested(self) -> bool: ...

    def publish(self, progress: Progress, epoch_ended: bool) -> None:
        """Make ``progress`` what pages show (after each step, and with new samples and map after each epoch)."""
        self.progress = progress

    @property
    def abandoned(self) -> bool:
        """Nobody has looked for minutes: every session watching it ended."""
        return not self.watching()

    def between_steps(self) -> None:
        """Called at every step's end, before the run asks whether to stop: where an engine may pause it."""

    def _should_stop(self) -> bool:
        self.between_steps()
        if not self.stop_requested() and time.monotonic() - self._started - self.paused_seconds > self.time_limit:
            self._timed_out = True
            self.stop()  # the server's time limit: the run keeps its best weights, as after Stop
        if not self.stop_requested() and self.abandoned:
            self._unwatched = True
            self.stop()  # a running run keeps its best weights for whoever opens the workspace again
        return self.stop_requested()

    def status(self, ahead: int = 0) -> RunStatus:
        return RunStatus(self.run_id, self.name, self.state, self.message, self.progress, ahead,
                         len(self.watching()), self.has_model)

    def persist(self, state: JobState | None = None) -> None:
        progress = self.progress
        self.store.write_status(self.run_id, state=(state or self.state).value, message=self.message, name=self.name,
                                origin="trained", epoch=progress.epoch, epochs=progress.epochs,
                                history=list(progress.history), has_model=self.has_model, worker=self.worker)

    def execute(self) -> None:
        """Train to the end (or to Stop or Cancel) and leave the result and the final state in the store."""
        sample: dict = {}
        epochs = self.request.config().epochs

        def on_start(model, splits) -> None:
            sample.update(model=model, test=splits.test, class_names=splits.class_names,
                          recorder=ProbeRecorder(choose_probe(splits.val, self.request.seed),
                                                 model_info(self.request.model).is_autoencoder))
            self.progress = Progress(1, epochs, 0, 0)
            self._started = time.monotonic()
            self.persist()

        def on_step(report: StepReport) -> None:
            self.publish(replace(self.progress, epoch=report.epoch, step=report.step, steps=report.steps,
                                 loss=report.loss), epoch_ended=False)

        def on_epoch(report: EpochReport) -> None:
            recorder: ProbeRecorder = sample["recorder"]
            recorder.after_epoch(sample["model"])
            record = recorder.record
            samples = self.progress.samples
            if record.reconstructions:
                samples = (torch.from_numpy(record.shown).float() / 255, torch.from_numpy(record.reconstructions[-1]).float() / 255)
            self.publish(replace(self.progress, history=self.progress.history + (vars(report),), samples=samples,
                                 probe_map=(recorder.latest_layout(), record.labels, tuple(sample["class_names"]))),
                         epoch_ended=True)
            self.persist()

        try:
            checkpoint = train_checkpoint(self.request, self.name, on_step=on_step, on_epoch=on_epoch,
                                          should_stop=self._should_stop, on_start=on_start)
        except TrainingFailed as error:
            self.end(JobState.FAILED, f"Training failed: {error}")
            return
        except Exception as error:  # bad data or settings: reported on the page, never a traceback
            self.end(JobState.FAILED, f"Training could not run: {error}")
            return
        if self.cancel_requested():
            self.end(JobState.CANCELLED, "Cancelled; nothing was kept.")
            return
        try:
            self.store.save_model(self.run_id, StoredModel(checkpoint, sample["test"], tuple(sample["class_names"])))
            self.store.save_probe(self.run_id, sample["recorder"].record)
        except OSError as error:  # a full disk, most likely: say so rather than train on forever in the page
            self.end(JobState.FAILED, f"Training ended but its model could not be saved ({error.strerror or error}); "
                                      "nothing was kept.")
            return
        reason = checkpoint.card["training"]["stop_reason"]
        if self._timed_out:
            reason += f" (this server's time limit: {self.time_limit / 60:g} minutes a run)"
        elif self._unwatched:
            reason += " (nobody had watched it for a few minutes)"
        self.end(JobState.STOPPED if self.stop_requested() else JobState.FINISHED, reason, has_model=True)

    def end(self, state: JobState, message: str, has_model: bool = False) -> None:
        """The store hears of the end first: by the time a page sees the state, the result is on disk. Where
        even the status cannot be written, the engine still forgets the run (``stale_status`` covers its file)."""
        self.message, self.has_model = message, has_model
        try:
            self.persist(state)
        except OSError as error:
            log.error("run %s: its final status (%s) could not be written: %s", self.run_id, state.value, error)
        self.state = state


class ThreadRun(RunExecution):
    """A run of the embedded queue: a thread of this server trains it; its signals live in memory."""

    def __init__(self, run_id: str, request: TrainingRequest, store: RunStore,
                 abandoned_after: float = ABANDONED_AFTER_SECONDS, time_limit: float = float("inf")):
        super().__init__(run_id, request, store, abandoned_after, time_limit)
        self.watchers: dict[str, float] = {}  # workspace token -> when its page last showed the run
        self.holder = ""  # whose turn it takes in the queue (Submitter.holder)
        self.paused = False
        self.turn_started = 0.0
        self.on_step_end: Callable[[], None] = lambda: None
        self._stop, self._cancel = threading.Event(), threading.Event()
        self.cost = request.cost()

    def left(self) -> tuple[str, int]:
        """Its holder and the image passes it has left, as explorer.limits.Turns ranks runs."""
        return self.holder, round(self.cost * (1 - self.progress.fraction))

    def between_steps(self) -> None:
        self.on_step_end()

    def watch(self, watcher: str) -> None:
        self.watchers[watcher] = time.monotonic()

    def watching(self, besides: str | None = None) -> list[str]:
        now = time.monotonic()
        return [w for w, seen in list(self.watchers.items()) if w != besides and now - seen <= self.abandoned_after]

    def leave(self, watcher: str) -> None:
        self.watchers.pop(watcher, None)

    def stop(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


def stop_or_leave(run: RunExecution, watcher: str, end: Callable[[RunExecution], None]) -> bool:
    """Others watching the run keep it: ``watcher`` only leaves (False); the last one watching ends it (True)."""
    if run.watching(besides=watcher):
        run.leave(watcher)
        return False
    end(run)
    return True


def stale_status(store: RunStore, run: str, stored: dict | None) -> dict | None:
    """A status file still saying queued or training for a run no engine holds any more (its end could not be
    written) is ended as failed, once; other statuses come back unchanged."""
    if not is_active(stored):
        return stored
    ended = {**stored, "state": JobState.FAILED.value, "has_model": False,
             "message": "The run ended without saving its result (the server could not write it); nothing was kept."}
    try:
        store.write_status(run, **ended)
    except OSError:
        pass
    return ended


def stored_status(run: str, stored: dict | None) -> RunStatus | None:
    """A run no engine holds now, from its status file in the store (``RunStore.status``)."""
    if stored is None:
        return None
    progress = Progress(stored.get("epoch", 0), stored.get("epochs", 0), history=tuple(stored.get("history", ())))
    return RunStatus(run, stored.get("name", run), JobState(stored["state"]), stored.get("message", ""), progress,
                     has_model=bool(stored.get("has_model")))


class JobEngine(ABC):
    """What the pages ask of a job engine (submit, status, stop, cancel, by run id), with the steps both engines
    take written once here. An engine says only where its active runs and their signals live and how it starts
    one: ``JobQueue`` in this server's threads, ``explorer.redis_jobs.RedisJobQueue`` on RQ workers. A third
    engine implements the abstract methods below."""

    store: RunStore
    limits: Limits

    def submit(self, request: TrainingRequest, watcher: str, address: str | None = None) -> str:
        """The run's id: a new run, or the queued, running or finished (or stopped, with weights) run identical
        to ``request``. Refused past the limits (``admit``), or while ``watcher`` watches another active run."""
        run, submitter = run_id(request), Submitter(watcher, address)
        with self._exclusively():
            active = self._active_runs()
            if any(watcher in self._execution(other).watching() for other in active if other != run):
                raise ValueError(ONE_RUN_AT_A_TIME)
            if run in active:
                self._execution(run).watch(watcher)
                return run
            if self.store.reusable(run):
                self.store.touch(run)
                return run
            admit(self.store, request, submitter, self.limits, self._holders())
            self._begin(run, request, submitter, watcher)
        return run

    def stop(self, run: str, watcher: str) -> bool:
        """Stop the run for everyone if ``watcher`` is the last one watching it; else only leave it (False)."""
        return self._end_for(run, watcher, cancel=False)

    def cancel(self, run: str, watcher: str) -> bool:
        """Cancel the run if ``watcher`` is the last one watching it; else only leave it (False)."""
        return self._end_for(run, watcher, cancel=True)

    def _end_for(self, run: str, watcher: str, cancel: bool) -> bool:
        with self._exclusively():
            if run not in self._active_runs():
                return True
            execution = self._execution(run)
            if not stop_or_leave(execution, watcher, methodcaller("cancel" if cancel else "stop")):
                return False
            if cancel:
                self._cancelled(run, execution)
            return True

    @abstractmethod
    def describe(self) -> str:
        """Where runs train, for the Train page."""

    @abstractmethod
    def status(self, run: str, watcher: str | None = None) -> RunStatus | None:
        """What a page shows of a run; ``watcher`` marks the run as still wanted by that workspace."""

    @abstractmethod
    def _exclusively(self) -> ContextManager:
        """Held while a run is submitted or ended: two requests for one run start it once, whoever sends them."""

    @abstractmethod
    def _active_runs(self) -> Collection[str]:
        """The ids of the runs queued or training now."""

    @abstractmethod
    def _execution(self, run: str) -> RunExecution:
        """An active run's signals (watchers, Stop, Cancel), wherever this engine keeps them."""

    @abstractmethod
    def _holders(self) -> list[str]:
        """Whose turns the active runs take (``Submitter.holder``), one per run."""

    @abstractmethod
    def _begin(self, run: str, request: TrainingRequest, submitter: Submitter, watcher: str) -> None:
        """A new run: in the store (``RunStore.start``), watched by ``watcher``, waiting at its fair place."""

    def _cancelled(self, run: str, execution: RunExecution) -> None:
        """After Cancel: what the engine must do itself for a run no training will pick up."""


class JobQueue(JobEngine):
    """Server-wide: at most ``slots`` runs train at once, the others wait first come, first served."""

    def __init__(self, store: RunStore, slots: int | None = None, limits: Limits | None = None):
        self.store = store
        self.slots = slots or default_slots()
        self.limits = limits or Limits.from_environment()
        store.mark_interrupted()  # whatever the last server left queued or training will never finish
        self._jobs: dict[str, ThreadRun] = {}  # queued or training now
        self._waiting: list[ThreadRun] = []  # in turn order (fair_position); paused runs among them
        self._running: list[ThreadRun] = []  # holding a slot
        self.turns = Turns()
        self._changed = threading.Condition()

    def _exclusively(self) -> threading.Condition:
        return self._changed

    def _active_runs(self) -> dict[str, ThreadRun]:
        return self._jobs

    def _execution(self, run: str) -> ThreadRun:
        return self._jobs[run]

    def _holders(self) -> list[str]:
        return [job.holder for job in self._jobs.values()]

    def _begin(self, run: str, request: TrainingRequest, submitter: Submitter, watcher: str) -> None:
        self.store.start(run, request, owner=submitter.owner, holder=submitter.holder)
        job = self._jobs[run] = ThreadRun(run, request, self.store, time_limit=self.limits.run_seconds)
        job.holder = submitter.holder
        job.on_step_end = lambda: self._maybe_pause(job)
        job.watch(watcher)
        self._wait_in_turn(job)
        self._start_next()

    def _cancelled(self, run: str, execution: ThreadRun) -> None:
        self._start_next()  # a waiting run ends at once; a training one at its step's end

    def describe(self) -> str:
        """Where runs train, for the Train page."""
        return f"Runs train on this server, {self.slots} at a time; the others wait their turn."

    def job(self, run: str) -> ThreadRun | None:
        """The run while it is queued or training, else None (it is then only in the store)."""
        return self._jobs.get(run)

    def status(self, run: str, watcher: str | None = None) -> RunStatus | None:
        """What a page shows of a run; ``watcher`` marks the run as still wanted by that workspace."""
        with self._changed:
            job = self._jobs.get(run)
            if job is not None:
                if watcher:
                    job.watch(watcher)
                return job.status(self._ahead_of(job))
            return stored_status(run, stale_status(self.store, run, self.store.status(run)))

    def _ongoing(self) -> dict[str, float]:
        now, ongoing = time.monotonic(), {}
        for job in self._running:
            ongoing[job.holder] = ongoing.get(job.holder, 0.0) + now - job.turn_started
        return ongoing

    def _order(self) -> list[ThreadRun]:
        """Waiting runs, next first (explorer.limits.Turns)."""
        return [self._waiting[i] for i in self.turns.order([job.left() for job in self._waiting], self._ongoing())]

    def _ahead_of(self, job: ThreadRun) -> int:
        return len(self._running) + self._order().index(job) if job in self._waiting else 0

    def _my_turn(self, job: ThreadRun) -> bool:
        return len(self._running) < self.slots and self._order()[0] is job

    def _wait_in_turn(self, job: ThreadRun) -> None:
        self._waiting.insert(fair_position([other.holder for other in self._waiting],
                                           [other.holder for other in self._running], job.holder), job)

    def _take_slot(self, job: ThreadRun) -> None:
        self._waiting.remove(job)
        self._running.append(job)
        job.turn_started = time.monotonic()

    def _release_slot(self, job: ThreadRun) -> None:
        self._running.remove(job)
        self.turns.charge(job.holder, time.monotonic() - job.turn_started)

    def _start_next(self) -> None:
        """Under the lock, whenever a run arrives, ends, pauses or is cancelled: waiting runs that were cancelled or
        that nobody watches any more end, and the next ones in turn take the free slots, each on a thread of its
        own (a paused run resumes on the thread it kept). No thread waits for a slot; the threads are daemons
        because a run may train for hours and must not hold the server's exit, as an executor's workers would."""
        for job in [job for job in self._waiting if not job.paused and (job.cancel_requested() or job.abandoned)]:
            self._waiting.remove(job)
            job.end(JobState.CANCELLED, CANCELLED_WAITING)
            del self._jobs[job.run_id]
        while len(self._running) < self.slots and (order := self._order()) and not order[0].paused:
            job = order[0]
            self._take_slot(job)
            job.state = JobState.RUNNING
            job.persist()
            threading.Thread(target=self._train, args=(job,), name=f"training-{job.run_id[:8]}", daemon=True).start()
        self._changed.notify_all()  # a paused run whose turn it is

    def _maybe_pause(self, job: ThreadRun) -> None:
        """At a step's end: give the slot to a run of a holder who has trained less (Turns), then wait for it
        back. The run keeps its data and model in memory meanwhile, so at most MAX_PAUSED runs pause at once."""
        with self._changed:
            if (sum(other.paused for other in self._waiting) >= MAX_PAUSED or not self.turns.should_yield(
                    job.left(), time.monotonic() - job.turn_started, [other.left() for other in self._waiting],
                    self._ongoing())):
                return
            paused_at = time.monotonic()
            self._release_slot(job)
            job.paused, job.message = True, PAUSED
            self._wait_in_turn(job)
            self._start_next()
            while not self._my_turn(job) and not job.stop_requested():
                self._changed.wait(0.5)
            self._take_slot(job)  # a stopped run takes it back at once: it ends within a step
            job.paused, job.message = False, ""
            job.paused_seconds += time.monotonic() - paused_at
            self._start_next()

    def _train(self, job: ThreadRun) -> None:
        try:
            _lower_this_thread_priority()
            job.execute()
        except Exception as error:  # execute reports every failure it foresees; this is the one it did not
            log.exception("run %s failed", job.run_id)
            job.end(JobState.FAILED, f"Training failed unexpectedly ({error}); nothing was kept.")
        finally:
            with self._changed:
                self._release_slot(job)
                del self._jobs[job.run_id]
                self._start_next()
            make_room(self.store, self.limits)


def _lower_this_thread_priority() -> None:
    """Linux gives each thread its own nice value; elsewhere the run keeps normal priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
    except (AttributeError, OSError):
        pass
