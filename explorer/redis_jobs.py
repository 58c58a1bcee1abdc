"""Training on RQ workers: the job engine when ``REDIS_URL`` is set, for a class past one machine.

The app replicas and the workers share two things: the run store (one folder, e.g. a network volume,
at the app's path or at the worker's ``EXPLORER_STORE``)
and Redis. The store holds everything that must outlive a process, exactly as with the embedded queue
(request, status with the loss history, checkpoint, replay); Redis holds what is live: RQ's queue and
job registries (a run's RQ job has the run's id), which runs are active, who watches each, Stop and
Cancel, and per-step progress. A page asks ``RedisJobQueue`` what the embedded ``JobQueue`` answers, so
the Train page cannot tell the engines apart; ``python -m explorer.worker`` runs the RQ worker.

Faults, with RQ's own parts: a worker beats its job's execution in RQ's started-job registry with a short
lease; each app replica runs RQ's clean-up of that registry every beat, which queues a job whose lease ran
out again (``Retry``: once, from the start, since training is deterministic per seed) or fails it, and the
replica writes what RQ did into the run's status in the store. A Redis that restarts empty loses only live
state: finished runs are in the store, active ones are shown as interrupted. A worker that cannot find the
app's store says so in its job's meta, and the run fails with that message.
"""
from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from .housekeeping import make_room
from .jobs import (ABANDONED_AFTER_SECONDS, CANCELLED_WAITING, JobEngine, Progress, RunExecution, RunStatus, Submitter,
                   stale_status, stored_status)
from .limits import Limits, fair_position
from .run_store import JobState, RunStore, is_active
from .runs import TrainingRequest

URL_ENV, QUEUE_ENV = "REDIS_URL", "EXPLORER_QUEUE"
DEFAULT_QUEUE = "explorer-training"
HEARTBEAT_SECONDS = 3.0
# RQ leases a SimpleWorker's job for its worker TTL (7 minutes) and cleans its registries every 10: a class
# waiting on a killed worker's run needs both in seconds, so workers beat a 12-s lease and replicas clean up.
ALIVE_SECONDS = 12
RETRIES = 1  # a run whose worker died is queued again once
NO_TIMEOUT = -1  # a full recipe trains for hours; Stop, Cancel and abandonment end runs, not RQ
# RQ's queue and registries forget everything when Redis restarts empty; a training worker adds its run here
# again at every beat, so a replica can tell a run still training from one that was lost.
ACTIVE = "explorer:active"
SUBMITTING = "explorer:submitting"


def _key(kind: str, run: str) -> str:
    return f"explorer:{kind}:{run}"


class RedisRun(RunExecution):
    """A run whose signals live in Redis: the worker training it and every app replica see the same ones."""

    def __init__(self, run_id: str, request: TrainingRequest | None, store: RunStore, redis: Redis,
                 abandoned_after: float = ABANDONED_AFTER_SECONDS, time_limit: float = float("inf")):
        super().__init__(run_id, request, store, abandoned_after, time_limit)
        self.redis = redis

    @property
    def name(self) -> str:
        return self.request.name or self.request.model if self.request else self.run_id

    def watch(self, watcher: str) -> None:
        self.redis.hset(_key("watchers", self.run_id), watcher, time.time())

    def watching(self, besides: str | None = None) -> list[str]:
        now = time.time()
        seen = self.redis.hgetall(_key("watchers", self.run_id))
        return [w.decode() for w, at in seen.items() if w.decode() != besides and now - float(at) <= self.abandoned_after]

    def leave(self, watcher: str) -> None:
        self.redis.hdel(_key("watchers", self.run_id), watcher)

    def stop(self) -> None:
        self.redis.set(_key("stop", self.run_id), 1)

    def cancel(self) -> None:
        self.redis.set(_key("cancel", self.run_id), 1)
        self.stop()

    def stop_requested(self) -> bool:
        return self._flag("stop")

    def cancel_requested(self) -> bool:
        return self._flag("cancel")

    def _flag(self, kind: str) -> bool:
        try:
            return bool(self.redis.exists(_key(kind, self.run_id)))
        except RedisError:  # Redis restarting: train on, ask again at the next step
            return False

    def _should_stop(self) -> bool:
        try:
            return super()._should_stop()
        except RedisError:
            return False

    def publish(self, progress: Progress, epoch_ended: bool) -> None:
        self.progress = progress
        try:
            self.redis.set(_key("progress", self.run_id), json.dumps(
                {"epoch": progress.epoch, "epochs": progress.epochs, "step": progress.step, "steps": progress.steps,
                 "loss": progress.loss}))
            if epoch_ended and progress.probe_map is not None:
                self.redis.set(_key("live", self.run_id), _live_bytes(progress))
        except RedisError:
            pass  # pages show the last progress they read; the store has every epoch

    def live_progress(self, history: tuple[dict, ...]) -> Progress:
        """Per-step progress and the latest epoch's samples and map, as the worker published them."""
        step, live = self.redis.mget(_key("progress", self.run_id), _key("live", self.run_id))
        progress = Progress(history=history, **(json.loads(step) if step else {}))
        if live:
            with np.load(io.BytesIO(live), allow_pickle=False) as arrays:
                samples = None
                if "shown" in arrays:
                    samples = (torch.from_numpy(arrays["shown"]), torch.from_numpy(arrays["reconstructed"]))
                progress.samples = samples
                progress.probe_map = (arrays["layout"], arrays["labels"], tuple(arrays["class_names"].tolist()))
        return progress

    def restart(self) -> None:
        """Queued again from the start: the progress of the lost attempt goes."""
        self.redis.delete(_key("progress", self.run_id), _key("live", self.run_id))

    def forget(self) -> None:
        """The run ended: its live state goes; the store keeps everything that lasts."""
        self.redis.delete(*(_key(kind, self.run_id) for kind in ("watchers", "stop", "cancel", "progress", "live",
                                                                 "missing")))
        self.redis.srem(ACTIVE, self.run_id)


def _live_bytes(progress: Progress) -> bytes:
    layout, labels, class_names = progress.probe_map
    arrays = {"layout": layout, "labels": labels, "class_names": np.array(class_names, dtype=str)}
    if progress.samples is not None:
        arrays.update(shown=progress.samples[0].numpy(), reconstructed=progress.samples[1].numpy())
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class RedisJobQueue(JobEngine):
    """The embedded ``JobQueue``'s interface over RQ: submit, status, stop, cancel, by run id."""

    def __init__(self, store: RunStore, url: str, queue: str | None = None, limits: Limits | None = None):
        self.store = store
        self.limits = limits or Limits.from_environment()
        self.redis = Redis.from_url(url, socket_timeout=10, health_check_interval=30)
        self.queue = Queue(queue or os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE, connection=self.redis,
                           serializer=JSONSerializer)
        self.store_id = store.ensure_identity()
        self._asked: set[str] = set()  # active runs this replica's pages asked about: Redis may have lost them
        threading.Thread(target=_settle_every_beat, args=(weakref.ref(self),), name="settle-lost-runs",
                         daemon=True).start()

    def describe(self) -> str:
        """Where runs train, for the Train page."""
        try:
            workers = Worker.count(connection=self.redis, queue=self.queue)
        except RedisError:
            return "The training queue (Redis) cannot be reached just now."
        return (f"Runs train on {workers} worker{'s' if workers != 1 else ''} of the class's queue (Redis), "
                "one run each at a time; the others wait their turn.")

    @contextmanager
    def _exclusively(self) -> Iterator[None]:
        """One Redis lock for every replica: two of them asked for the same run at once enqueue it once."""
        try:
            with self.redis.lock(SUBMITTING, timeout=60, blocking_timeout=30):
                yield
        except RedisError as error:
            raise ValueError(f"the training queue cannot be reached ({error}); try again in a moment") from None

    def _active_runs(self) -> set[str]:
        return {run.decode() for run in self.redis.smembers(ACTIVE)}

    def _execution(self, run: str) -> RedisRun:
        return RedisRun(run, None, self.store, self.redis)

    def _jobs(self, runs: list[str]) -> list[Job | None]:
        return Job.fetch_many(runs, connection=self.redis, serializer=JSONSerializer)

    def _holders(self) -> list[str]:
        return [job.meta.get("holder", "") for job in self._jobs(sorted(self._active_runs())) if job is not None]

    def _begin(self, run: str, request: TrainingRequest, submitter: Submitter, watcher: str) -> None:
        self.store.start(run, request, keep_sources=True, owner=submitter.owner, holder=submitter.holder)
        handle = RedisRun(run, request, self.store, self.redis)
        handle.forget()
        handle.watch(watcher)
        if (earlier := self.queue.fetch_job(run)) is not None:
            earlier.delete()  # an ended run's job: its result, meta and retries are not the new run's
        self.redis.sadd(ACTIVE, run)
        self._enqueue_fairly(run, submitter.holder)

    def _enqueue_fairly(self, run: str, holder: str) -> None:
        """Into RQ's queue at the run's fair place (explorer.limits.fair_position): a job enqueued at the end
        is moved before the first job of a later turn, in one transaction."""
        queued = self.queue.get_job_ids()
        training = self.queue.started_job_registry.get_job_ids(cleanup=False)
        holder_of = {job.id: job.meta.get("holder", "") for job in self._jobs(queued + training) if job is not None}
        self.queue.enqueue("explorer.redis_jobs.train_run", run, self.store_id, str(self.store.root.resolve()),
                           job_id=run, job_timeout=NO_TIMEOUT, result_ttl=600, failure_ttl=86400,
                           retry=Retry(max=RETRIES), meta={"holder": holder})
        position = fair_position([holder_of.get(job, "") for job in queued],
                                 [holder_of.get(job, "") for job in training], holder)
        if position < len(queued):
            pipe = self.redis.pipeline(transaction=True)
            pipe.lrem(self.queue.key, 1, run)
            pipe.linsert(self.queue.key, "BEFORE", queued[position], run)
            if pipe.execute()[1] == -1:  # a worker took that job meanwhile: the new one is next
                self.redis.lpush(self.queue.key, run)

    def status(self, run: str, watcher: str | None = None) -> RunStatus | None:
        """What a page shows of a run; ``watcher`` marks the run as still wanted by that workspace."""
        stored = stored_status(run, self.store.status(run))
        if stored is None or not stored.state.active:
            return stored
        self._asked.add(run)
        try:
            if not self.redis.sismember(ACTIVE, run):
                return stored  # lost with an emptied Redis: settled within a few seconds
            handle = self._execution(run)
            if watcher:
                handle.watch(watcher)
            ahead = self._ahead_of(run) if stored.state is JobState.QUEUED else 0
            progress = handle.live_progress(stored.progress.history)
            progress.epochs = progress.epochs or stored.progress.epochs
            return RunStatus(run, stored.name, stored.state, stored.message, progress, ahead,
                             len(handle.watching()), stored.has_model)
        except RedisError:
            return stored

    def _ahead_of(self, run: str) -> int:
        """Runs training now plus those queued before this one."""
        training = self.queue.started_job_registry.get_job_count(cleanup=False)
        return training + (self.queue.get_job_position(run) or 0)

    def settle_lost_runs(self) -> None:
        """What RQ knows of each active run, written into its status in the store where they differ: a job whose
        worker stopped beating is queued again or failed by RQ's clean-up of its started-job registry (the store
        hears it first, before another worker can take the job). Every replica does this every beat, one at a
        time: the pages only read."""
        with self.redis.lock(SUBMITTING, timeout=60, blocking_timeout=30):
            started, now = self.queue.started_job_registry, int(time.time())
            for job in self._jobs(started.get_expired_job_ids(now)):
                if job is not None and job.get_status(refresh=False) == JobStatus.STARTED:
                    self._worker_lost(job)
            started.cleanup(now)
            runs = sorted(self._active_runs() | self._asked)
            for run, job in zip(runs, self._jobs(runs)):
                stored = self.store.status(run)  # read after the job: a worker ends the run in the store first
                if is_active(stored):
                    self._settle(run, stored, job)
                else:
                    self._asked.discard(run)

    def _worker_lost(self, job: Job) -> None:
        stored = self.store.status(job.id)
        if not is_active(stored):
            return
        epoch = stored.get("epoch", 0)
        during = f" during epoch {epoch}" if epoch else ""
        if not job.retries_left:
            self._interrupt(job.id, stored, f"its worker stopped{during}, twice")
            return
        self.store.write_status(job.id, **{**stored, "state": JobState.QUEUED.value, "epoch": 0, "history": [],
                                           "message": f"Its worker stopped{during}; queued again from the start."})
        self._execution(job.id).restart()

    def _settle(self, run: str, stored: dict, job: Job | None) -> None:
        """A run the store holds as active although RQ has ended its job, or Redis has forgotten it."""
        if job is None:
            if not self.redis.sismember(ACTIVE, run) and self._missing_for_two_beats(run) \
                    and time.time() - stored.get("updated", 0) > ALIVE_SECONDS:
                self._interrupt(run, stored, "the job queue (Redis) restarted")
            return
        if job.meta.get("failure"):
            self.store.write_status(run, **{**stored, "state": JobState.FAILED.value, "message": job.meta["failure"]})
            self._execution(run).forget()
        elif job.get_status(refresh=False) in (JobStatus.FINISHED, JobStatus.FAILED):
            stale_status(self.store, run, stored)  # the worker could not write how the run ended
            self._execution(run).forget()

    def _missing_for_two_beats(self, run: str) -> bool:
        """After a Redis restart a living worker adds its run again within one heartbeat: give it two."""
        self.redis.set(_key("missing", run), time.time(), nx=True, ex=60)
        return time.time() - float(self.redis.get(_key("missing", run)) or time.time()) >= 2 * HEARTBEAT_SECONDS

    def _interrupt(self, run: str, stored: dict, reason: str) -> None:
        self.store.write_status(run, **{**stored, "state": JobState.INTERRUPTED.value, "message":
                                f"Interrupted: {reason}, so nothing was kept. Press Train to run it again."})
        self.store.drop_sources(run)
        self._execution(run).forget()

    def _cancelled(self, run: str, execution: RedisRun) -> None:
        """A run still in RQ's queue is taken out of it: no worker will pick it up to end it."""
        if self.queue.remove(run):
            self.store.write_status(run, **{**(self.store.status(run) or {}), "state": JobState.CANCELLED.value,
                                            "message": CANCELLED_WAITING})
            self.store.drop_sources(run)
            execution.forget()


def _settle_every_beat(engine: weakref.ref[RedisJobQueue]) -> None:
    """The replica's side of RQ's maintenance, for as long as the engine is in use."""
    while (queue := engine()) is not None:
        try:
            queue.settle_lost_runs()
        except (RedisError, OSError):
            pass  # Redis restarting, or the store briefly out of reach: settle at the next beat
        del queue
        time.sleep(HEARTBEAT_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def train_run(run: str, store_id: str, store_root: str) -> str:
    """The RQ job: train ``run`` in the app's store (at ``store_root``, or at the worker's ``EXPLORER_STORE``
    where the volume is mounted elsewhere), beating while it trains."""
    job = get_current_job()
    store = RunStore.from_environment(store_root)
    if store.identity() != store_id:
        return _cannot_run(job, f"Training could not run: worker {worker_name()} cannot reach the app's run store "
                                f"(it looks in {store.root}, which is "
                                f"{'another store' if store.identity() else 'not a store'}); "
                                "give the workers the app's EXPLORER_STORE.")
    try:
        request = store.training_request(run)
    except (OSError, ValueError, TypeError, KeyError) as error:  # its request.json or sources damaged or gone
        return _cannot_run(job, f"Training could not run: its request cannot be read from the store ({error}).")
    limits = Limits.from_environment()
    execution = RedisRun(run, request, store, job.connection, time_limit=limits.run_seconds)
    execution.worker = worker_name()
    if job.retries_left != RETRIES:  # queued again after a worker stopped: the page keeps saying so while it trains
        execution.message = (store.status(run) or {}).get("message", "")
    lease = _this_execution(job)
    beating = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(job, lease, beating), daemon=True)
    _beat_once(job, lease)  # a short lease before the store says running
    heartbeat.start()
    try:
        if execution.cancel_requested() or execution.abandoned:
            execution.end(JobState.CANCELLED, CANCELLED_WAITING)
        else:
            execution.state = JobState.RUNNING
            execution.persist()
            execution.execute()
    finally:
        beating.set()
        heartbeat.join()
        store.drop_sources(run)
        execution.forget()
        make_room(store, limits)
    return execution.state.value


def _cannot_run(job: Job, message: str) -> str:
    """Where the worker cannot write the run's status (another store, a damaged request), its job's meta says why."""
    job.meta["failure"] = message
    job.save_meta()
    return message


def _this_execution(job: Job) -> Execution:
    """This worker's execution of the job: the newest one (a killed worker's may still be listed)."""
    return Execution.fetch(id=job.execution_registry.get_execution_ids()[-1], job_id=job.id, connection=job.connection)


def _beat_once(job: Job, execution: Execution) -> None:
    """Renew the execution's lease in RQ's started-job registry, and say the run is active (a Redis that
    restarted empty learns it again)."""
    try:
        with job.connection.pipeline() as pipe:
            execution.heartbeat(job.started_job_registry, ALIVE_SECONDS, pipe)
            pipe.sadd(ACTIVE, job.id)
            pipe.execute()
    except RedisError:
        pass


def _beat(job: Job, execution: Execution, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_SECONDS):
        _beat_once(job, execution)
