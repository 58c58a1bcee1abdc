"""Training on RQ workers: the job engine when ``REDIS_URL`` is set, for a class past one machine.

The app replicas and the workers share two things: the run store (one folder, e.g. a network volume,
at the app's path or at the worker's ``EXPLORER_STORE``)
and Redis. The store holds everything that must outlive a process, exactly as with the embedded queue
(request, status with the loss history, checkpoint, replay); Redis holds what is live: the RQ queue,
which runs are active, who watches each, Stop and Cancel, per-step progress, and a heartbeat per
running run. A page asks ``RedisJobQueue`` what the embedded ``JobQueue`` answers, so the Train page
cannot tell the engines apart; ``python -m explorer.worker`` runs the RQ worker.

Faults: a worker killed mid-run stops its heartbeat; the next page that looks puts the run back in the
queue, from the start (training is deterministic per seed), once; a second loss marks it interrupted.
A Redis that restarts empty loses only live state: finished runs are in the store, active ones are
shown as interrupted. A worker that cannot find the app's store fails the run with that message.
"""
from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker, get_current_job
from rq.serializers import JSONSerializer

from .housekeeping import make_room
from .jobs import (ABANDONED_AFTER_SECONDS, CANCELLED_WAITING, JobEngine, Progress, RunExecution, RunStatus, Submitter,
                   stored_status)
from .limits import Limits, fair_position
from .run_store import JobState, RunStore, is_active
from .runs import TrainingRequest

URL_ENV, QUEUE_ENV = "REDIS_URL", "EXPLORER_QUEUE"
DEFAULT_QUEUE = "explorer-training"
HEARTBEAT_SECONDS = 3.0
ALIVE_SECONDS = 12  # a running run whose worker has not beaten for this long is lost
ATTEMPTS = 2  # a run whose worker died is queued again once
NO_TIMEOUT = -1  # a full recipe trains for hours; Stop, Cancel and abandonment end runs, not RQ
ACTIVE = "explorer:active"  # run ids queued or training
HOLDERS = "explorer:holders"  # run id -> whose turn it takes in the queue (Submitter.holder)


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

    def forget(self) -> None:
        """The run ended: its live state goes; the store keeps everything that lasts."""
        self.redis.delete(*(_key(kind, self.run_id) for kind in ("watchers", "stop", "cancel", "progress", "live",
                                                                 "alive", "attempts", "missing")))
        self.redis.srem(ACTIVE, self.run_id)
        self.redis.hdel(HOLDERS, self.run_id)


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
            with self.redis.lock("explorer:submitting", timeout=60, blocking_timeout=30):
                yield
        except RedisError as error:
            raise ValueError(f"the training queue cannot be reached ({error}); try again in a moment") from None

    def _active_runs(self) -> set[str]:
        return {run.decode() for run in self.redis.smembers(ACTIVE)}

    def _execution(self, run: str) -> RedisRun:
        return RedisRun(run, None, self.store, self.redis)

    def _holders(self) -> list[str]:
        return list(self._holder_of().values())

    def _holder_of(self) -> dict[str, str]:
        return {key.decode(): value.decode() for key, value in self.redis.hgetall(HOLDERS).items()}

    def _begin(self, run: str, request: TrainingRequest, submitter: Submitter, watcher: str) -> None:
        holders = self._holder_of()
        self.store.start(run, request, keep_sources=True, owner=submitter.owner, holder=submitter.holder)
        handle = RedisRun(run, request, self.store, self.redis)
        handle.forget()
        handle.watch(watcher)
        self.redis.hset(HOLDERS, run, submitter.holder)
        self._enqueue(run, holders, submitter.holder)

    def _enqueue(self, run: str, holders: dict[str, str] | None = None, holder: str = "") -> None:
        """Into RQ's queue at the run's fair place (explorer.limits.fair_position): a job enqueued at the end
        is moved before the first job of a later turn, in one transaction."""
        attempt = self.redis.hincrby(_key("attempts", run), "count", 1)
        self.redis.sadd(ACTIVE, run)
        job_id = f"{run}-{attempt}"
        queued = self.queue.get_job_ids()
        self.queue.enqueue("explorer.redis_jobs.train_run", run, self.store_id, str(self.store.root.resolve()),
                           job_id=job_id, job_timeout=NO_TIMEOUT, result_ttl=600, failure_ttl=86400)
        if holders is None:
            return
        queued_runs = [job.rsplit("-", 1)[0] for job in queued]
        running = [holders.get(other, "") for other in holders if other not in queued_runs]
        position = fair_position([holders.get(other, "") for other in queued_runs], running, holder)
        if position < len(queued):
            pipe = self.redis.pipeline(transaction=True)
            pipe.lrem(self.queue.key, 1, job_id)
            pipe.linsert(self.queue.key, "BEFORE", queued[position], job_id)
            if pipe.execute()[1] == -1:  # a worker took that job meanwhile: the new one is next
                self.redis.lpush(self.queue.key, job_id)

    def status(self, run: str, watcher: str | None = None) -> RunStatus | None:
        """What a page shows of a run; ``watcher`` marks the run as still wanted by that workspace."""
        try:
            record = self.store.status(run)
            if self._notice_lost(run, record):
                record = self.store.status(run)
            stored = stored_status(run, record)
            if stored is None or not stored.state.active or not self.redis.sismember(ACTIVE, run):
                return stored
            handle = self._execution(run)
            if watcher:
                handle.watch(watcher)
            ahead = self._ahead_of(run) if stored.state is JobState.QUEUED else 0
            progress = handle.live_progress(stored.progress.history)
            progress.epochs = progress.epochs or stored.progress.epochs
            return RunStatus(run, stored.name, stored.state, stored.message, progress, ahead,
                             len(handle.watching()), stored.has_model)
        except RedisError:
            return stored_status(run, self.store.status(run))

    def _ahead_of(self, run: str) -> int:
        """Runs training now plus those queued before this one."""
        queued = [job.rsplit("-", 1)[0] for job in self.queue.get_job_ids()]
        training = sum(1 for _ in self.redis.scan_iter(_key("alive", "*")))
        return training + (queued.index(run) if run in queued else 0)

    def _notice_lost(self, run: str, stored: dict | None) -> bool:
        """A worker failure, a dead worker or an emptied Redis, turned into the run's state in the store
        (True when it rewrote the run's status)."""
        if not is_active(stored):
            return False
        failure = self.redis.get(_key("failure", run))
        if failure:
            self.store.write_status(run, **{**stored, "state": JobState.FAILED.value, "message": failure.decode()})
            self.redis.delete(_key("failure", run))
            self._execution(run).forget()
            return True
        loss = self._loss(run, stored)
        if loss is None or (loss == "worker" and not self._missing_for_two_beats(run)):
            return False
        with self.redis.lock("explorer:submitting", timeout=60, blocking_timeout=30):
            stored = self.store.status(run)
            loss = self._loss(run, stored)  # another replica may have handled it meanwhile
            if loss:
                self._after_loss(run, stored, loss)
            return bool(loss)

    def _loss(self, run: str, stored: dict | None) -> str | None:
        """"worker" if the worker training it stopped beating, "redis" if Redis no longer knows the run."""
        if not is_active(stored):
            return None
        if stored["state"] == JobState.RUNNING and not self.redis.exists(_key("alive", run)):
            return "worker"
        if not self.redis.sismember(ACTIVE, run) and time.time() - stored.get("updated", 0) > ALIVE_SECONDS:
            return "redis"
        return None

    def _missing_for_two_beats(self, run: str) -> bool:
        """After a Redis restart a living worker beats again within one heartbeat: give it two."""
        self.redis.set(_key("missing", run), time.time(), nx=True, ex=60)
        return time.time() - float(self.redis.get(_key("missing", run)) or time.time()) >= 2 * HEARTBEAT_SECONDS

    def _after_loss(self, run: str, stored: dict, loss: str) -> None:
        epoch = stored.get("epoch", 0)
        during = f" during epoch {epoch}" if epoch else ""
        self.redis.delete(_key("missing", run))
        if loss == "worker" and int(self.redis.hget(_key("attempts", run), "count") or 0) < ATTEMPTS:
            self.store.write_status(run, **{**stored, "state": JobState.QUEUED.value, "epoch": 0, "history": [], "message":
                                    f"Its worker stopped{during}; queued again from the start."})
            self.redis.delete(_key("progress", run), _key("live", run))
            self._enqueue(run)
            return
        reason = "the job queue (Redis) restarted" if loss == "redis" else f"its worker stopped{during}, twice"
        self.store.write_status(run, **{**stored, "state": JobState.INTERRUPTED.value, "message":
                                f"Interrupted: {reason}, so nothing was kept. Press Train to run it again."})
        self.store.drop_sources(run)
        self._execution(run).forget()

    def _cancelled(self, run: str, execution: RedisRun) -> None:
        """A run still in RQ's queue is taken out of it: no worker will pick it up to end it."""
        attempt = self.redis.hget(_key("attempts", run), "count")
        if attempt and self.queue.remove(f"{run}-{int(attempt)}"):
            self.store.write_status(run, **{**(self.store.status(run) or {}), "state": JobState.CANCELLED.value,
                                            "message": CANCELLED_WAITING})
            self.store.drop_sources(run)
            execution.forget()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def train_run(run: str, store_id: str, store_root: str) -> str:
    """The RQ job: train ``run`` in the app's store (at ``store_root``, or at the worker's ``EXPLORER_STORE``
    where the volume is mounted elsewhere), beating while it trains."""
    redis = get_current_job().connection
    store = RunStore.from_environment(store_root)
    if store.identity() != store_id:
        message = (f"Training could not run: worker {worker_name()} cannot reach the app's run store (it looks in "
                   f"{store.root}, which is {'another store' if store.identity() else 'not a store'}); "
                   "give the workers the app's EXPLORER_STORE.")
        redis.set(_key("failure", run), message)
        return message
    try:
        request = store.training_request(run)
    except (OSError, ValueError, TypeError, KeyError) as error:  # its request.json or sources damaged or gone
        message = f"Training could not run: its request cannot be read from the store ({error})."
        redis.set(_key("failure", run), message)
        return message
    limits = Limits.from_environment()
    execution = RedisRun(run, request, store, redis, time_limit=limits.run_seconds)
    execution.worker = worker_name()
    _beat_once(redis, run)  # alive before the store says running
    beating = threading.Event()
    heartbeat = threading.Thread(target=_beat, args=(redis, run, beating), daemon=True)
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


def _beat_once(redis: Redis, run: str) -> None:
    """Say the run is alive (and active: a Redis that restarted learns it again)."""
    try:
        redis.set(_key("alive", run), worker_name(), ex=ALIVE_SECONDS)
        redis.sadd(ACTIVE, run)
    except RedisError:
        pass


def _beat(redis: Redis, run: str, done: threading.Event) -> None:
    while not done.wait(HEARTBEAT_SECONDS):
        _beat_once(redis, run)
