"""Runs kept on disk: every training run and uploaded checkpoint is a folder, found again by its id alone.

A run's id is a digest of everything that decides its weights (model, data and its uploaded files,
settings, corruption, subset, seed; not its display name), so identical requests name one folder and
a page, a reloaded tab or a restarted server finds the run without any process's memory. Layout::

    <root>/runs/<run id>/request.json   what was asked (uploaded files by their SHA-256)
                         status.json    state, message, epoch, loss history; rewritten as the run goes
                         model.safetensors, model.json   the checkpoint, once the run ends with weights
                         test.npz       the test images the model is explored on (uint8) and their labels
                         probe.npz      the training replay: a probe set's latents after every epoch

Every file is written to a temporary name and renamed into place, status last, so a reader never
sees a half-written run; a removed run is renamed away before its files are deleted. Past the size
cap, ended runs are removed, those of the holder keeping the most bytes first and, within a holder, the
least recently used first; active runs, runs on a lesson still going and runs made or opened within
the recent window never are. Each run records who asked for it first (``owner``: a workspace's digest; ``holder``: that
client's address digest, or the owner where the address is unknown), so one student's many runs leave
the store before anyone else's.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Collection, Iterator

try:
    import fcntl
except ImportError:  # Windows: one server process, so a lock within it suffices
    fcntl = None

import numpy as np

from .checkpoint import Checkpoint, checkpoint_paths, load_checkpoint, save_checkpoint
from .files import atomic_write
from .datasets import ImageSet
from .replay import ProbeRecord
from .runs import ID_LENGTH, TrainingRequest, source_digests

STORE_ENV, CAP_ENV = "EXPLORER_STORE", "EXPLORER_STORE_MB"
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "store"
# A quick run of S4 is about 0.15 MB (its replay included); a full Fashion-MNIST run 4 MB of test images plus
# 0.2-13 MB of weights and 1-3 MB of replay.
DEFAULT_CAP_MB = 2048


class JobState(str, Enum):
    """Where a run is in its life, as its status file says (``state``) and its page shows it."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


def is_active(status: dict | None) -> bool:
    """A status record of a run queued or training now (or left so by a server that stopped)."""
    return bool(status) and JobState(status["state"]).active


class RunNotFound(LookupError):
    """The run is not in the store (never made, or removed to keep the store under its cap)."""


def request_record(request: TrainingRequest) -> dict:
    """request.json: the request as asked, uploaded files by digest (the data itself is not kept)."""
    return {"model": request.model, "dataset": request.dataset, "settings": request.settings, "noise": request.noise,
            "subset": request.subset, "latent": request.latent, "classes": request.classes, "seed": request.seed,
            "name": request.name, "sources": source_digests(request.sources)}


@dataclass(frozen=True)
class RunUsage:
    run: str
    bytes: int
    owner: str
    holder: str
    active: bool
    last_used: float


@dataclass
class StoredModel:
    """A run's result as the pages explore it: the checkpoint and the test images it was measured on."""

    checkpoint: Checkpoint
    test: ImageSet
    class_names: tuple[str, ...]


_one_process = threading.Lock()


class RunStore:
    def __init__(self, root: str | Path, cap_bytes: int):
        self.root = Path(root)
        self.cap_bytes = cap_bytes
        self.runs = self.root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_environment(cls, root: str | Path | None = None) -> "RunStore":
        """``EXPLORER_STORE`` (a folder) and ``EXPLORER_STORE_MB`` (its cap) if set, else ``root`` or ./store
        and 2 GB."""
        root = os.environ.get(STORE_ENV) or root or DEFAULT_ROOT
        return cls(root, int(float(os.environ.get(CAP_ENV) or DEFAULT_CAP_MB) * 2**20))

    def identity(self) -> str | None:
        """The store's id (``store.json``), or None where no app made this folder a store: a worker
        compares it with the id the app sent, so a worker looking at the wrong folder says so."""
        try:
            return json.loads((self.root / "store.json").read_text())["id"]
        except (OSError, ValueError, KeyError):
            return None

    def ensure_identity(self) -> str:
        if self.identity() is None:
            try:
                with open(self.root / "store.json", "x") as created:  # the first of several replicas wins
                    created.write(json.dumps({"id": uuid.uuid4().hex}))
            except FileExistsError:
                pass
        return self.identity()

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """One holder of ``name`` at a time across threads and processes sharing this store (app replicas)."""
        if fcntl is None:
            with _one_process:
                yield
            return
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def folder(self, run: str) -> Path:
        if not (len(run) == ID_LENGTH and all(c in "0123456789abcdef" for c in run)):
            raise RunNotFound(f"{run!r} is not a run id")
        return self.runs / run

    def status(self, run: str) -> dict | None:
        try:
            return json.loads((self.folder(run) / "status.json").read_text())
        except (FileNotFoundError, RunNotFound, json.JSONDecodeError):
            return None

    def request(self, run: str) -> dict:
        return json.loads((self.folder(run) / "request.json").read_text())

    def write_status(self, run: str, **status) -> None:
        atomic_write(self.folder(run) / "status.json", json.dumps({**status, "updated": time.time()}).encode())

    def start(self, run: str, request: TrainingRequest, keep_sources: bool = False, owner: str = "",
              holder: str = "") -> None:
        """A new run's folder (a previous run of the same id that ended without weights is replaced).

        ``keep_sources`` writes the uploaded files too, for a worker elsewhere that trains from the store alone;
        ``drop_sources`` removes them when the run ends."""
        if self.reusable(run):
            raise ValueError(f"run {run} has weights: join it instead of training it again")
        self.remove(run)
        folder = self.folder(run)
        if keep_sources:
            for key, data in request.sources.items():
                atomic_write(folder / "sources" / key, data)
        atomic_write(folder / "request.json", json.dumps(request_record(request), indent=2).encode())
        self.write_status(run, state=JobState.QUEUED.value, name=request.name or request.model, origin="trained", owner=owner,
                          holder=holder or owner)

    def reusable(self, run: str) -> bool:
        """The run ended with weights (finished, or stopped and kept its best): an identical request joins it."""
        status = self.status(run) or {}
        return bool(status.get("has_model")) and not is_active(status)

    def training_request(self, run: str) -> TrainingRequest:
        """The request as ``start`` kept it, uploaded files included (for a worker)."""
        record = self.request(run)
        sources = {key: (self.folder(run) / "sources" / key).read_bytes() for key in record.pop("sources")}
        return TrainingRequest(**record, sources=sources)

    def drop_sources(self, run: str) -> None:
        shutil.rmtree(self.folder(run) / "sources", ignore_errors=True)

    def save_model(self, run: str, model: StoredModel) -> None:
        """The checkpoint and test images; the caller writes the status that makes them visible."""
        folder = self.folder(run)
        save_checkpoint(folder / "model", model.checkpoint.model, model.checkpoint.card)
        buffer = _npz_bytes(images=model.test.images, labels=model.test.labels,
                            class_names=np.array(model.class_names, dtype=str))
        atomic_write(folder / "test.npz", buffer)

    def save_probe(self, run: str, record: ProbeRecord) -> None:
        """The training replay's record (explorer.replay), written before the status that makes the run visible."""
        atomic_write(self.folder(run) / "probe.npz", record.to_bytes())

    def probe(self, run: str) -> ProbeRecord | None:
        """The run's training replay record, if it kept one."""
        try:
            return ProbeRecord.from_bytes((self.folder(run) / "probe.npz").read_bytes())
        except (FileNotFoundError, RunNotFound):
            return None

    def has_model(self, run: str) -> bool:
        status = self.status(run)
        return bool(status and status.get("has_model"))

    def checkpoint_paths(self, run: str) -> tuple[Path, Path]:
        """The run's ``.safetensors`` and ``.json`` files, as a student downloads them."""
        return checkpoint_paths(self.folder(run) / "model")

    def model_version(self, run: str) -> int:
        """Changes whenever the run's checkpoint is written again (a stopped run re-run in full)."""
        try:
            return (self.folder(run) / "model.json").stat().st_mtime_ns
        except FileNotFoundError:
            raise RunNotFound(f"run {run} has no model (it is gone, or ended without one)") from None

    def card(self, run: str) -> dict:
        if not self.has_model(run):
            raise RunNotFound(f"run {run} has no model (it is gone, or ended without one)")
        return json.loads((self.folder(run) / "model.json").read_text())

    def load(self, run: str) -> StoredModel:
        if not self.has_model(run):
            raise RunNotFound(f"run {run} has no model (it is gone, or ended without one)")
        folder = self.folder(run)
        checkpoint = load_checkpoint(folder / "model")
        with np.load(folder / "test.npz", allow_pickle=False) as test:
            images, class_names = ImageSet(test["images"], test["labels"]), tuple(test["class_names"].tolist())
        self.touch(run)
        return StoredModel(checkpoint, images, class_names)

    def add_upload(self, model: StoredModel, owner: str = "", holder: str = "") -> str:
        """An uploaded checkpoint kept like a finished run, under the digest of its weights and card; it counts
        against the store's cap and its owner's share like a trained run."""
        digest = hashlib.sha256(model.checkpoint.card.get("weights_sha256", "").encode()
                                + json.dumps(model.checkpoint.card, sort_keys=True).encode())
        run = digest.hexdigest()[:ID_LENGTH]
        if not self.has_model(run):
            self.save_model(run, model)
            self.write_status(run, state=JobState.FINISHED.value, name=model.checkpoint.card.get("name") or "uploaded",
                              origin="uploaded", has_model=True, message="uploaded", owner=owner,
                              holder=holder or owner)
        self.touch(run)
        return run

    def touch(self, run: str) -> None:
        """Mark the run as just used: the cap removes the runs used least recently first."""
        try:
            os.utime(self.folder(run))
        except (FileNotFoundError, RunNotFound):
            pass

    def remove(self, run: str) -> None:
        folder = self.folder(run)
        if folder.exists():
            doomed = folder.with_name(f".removed-{run}-{uuid.uuid4().hex[:8]}")
            os.replace(folder, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def run_ids(self) -> list[str]:
        return [path.name for path in self.runs.iterdir() if not path.name.startswith(".")]

    def size(self, run: str) -> int:
        """Bytes of every file of the run, a queued run's uploaded sources included."""
        try:
            return sum(path.stat().st_size for path in self.folder(run).rglob("*") if path.is_file())
        except FileNotFoundError:  # removed meanwhile
            return 0

    def total_size(self) -> int:
        return sum(self.size(run) for run in self.run_ids())

    def last_used(self, run: str) -> float:
        try:
            return self.folder(run).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def usage(self) -> list[RunUsage]:
        """Every run's bytes, owner, holder and state, as the cap and the quotas weigh them."""
        usage = []
        for run in self.run_ids():
            status = self.status(run) or {}
            usage.append(RunUsage(run, self.size(run), status.get("owner", ""), status.get("holder", ""),
                                  is_active(status), self.last_used(run)))
        return usage

    def keep_under_cap(self, protected: Collection[str] = (), recent_seconds: float = 0.0) -> list[str]:
        """Remove ended runs until the store fits its cap: the heaviest holder's first, each holder's least
        recently used first; never an active run, one in ``protected`` or one used within ``recent_seconds``.
        Returns the removed runs' ids (the store may stay over its cap when everything left is protected)."""
        return self._evict(self.usage(), self.cap_bytes, protected, recent_seconds, by=lambda use: use.holder)

    def keep_owner_under(self, owner: str, quota: int, protected: Collection[str] = ()) -> bool:
        """Remove ``owner``'s own ended runs, least recently used first, until they fit ``quota``; whether they do."""
        mine = [use for use in self.usage() if use.owner == owner]
        self._evict(mine, quota, protected, 0.0, by=lambda use: use.owner)
        return sum(use.bytes for use in mine if (self.runs / use.run).exists()) <= quota

    def _evict(self, usage: list["RunUsage"], cap: int, protected: Collection[str], recent_seconds: float,
               by) -> list[str]:
        total, removed, now = sum(use.bytes for use in usage), [], time.time()
        held: dict[str, int] = {}
        for use in usage:
            held[by(use)] = held.get(by(use), 0) + use.bytes
        candidates = [use for use in usage if not use.active and use.run not in protected
                      and now - use.last_used > recent_seconds]
        while total > cap and candidates:
            heaviest = max(held, key=lambda key: (any(by(use) == key for use in candidates), held[key]))
            victim = min((use for use in candidates if by(use) == heaviest), key=lambda use: use.last_used)
            self.remove(victim.run)
            candidates.remove(victim)
            total -= victim.bytes
            held[heaviest] -= victim.bytes
            removed.append(victim.run)
        return removed

    def mark_interrupted(self) -> list[str]:
        """At a server's start: runs the last server left queued or training are shown as interrupted."""
        interrupted = []
        for run in self.run_ids():
            status = self.status(run)
            if is_active(status):
                epoch = status.get("epoch", 0)
                self.write_status(run, **{**status, "state": JobState.INTERRUPTED.value, "message":
                                  f"Interrupted: the server stopped{f' during epoch {epoch}' if epoch else ''}, "
                                  "so nothing was kept. Press Train to run it again."})
                interrupted.append(run)
        return interrupted


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
