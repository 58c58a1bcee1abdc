"""Fair shares of a server that a whole class uses at once: what one run, one workspace or one address may take.

Every limit has a default that a lesson never meets (the seeds' full recipes fit, quick runs are a hundredth of
the run budget) and an environment variable for a teacher whose server can afford more. A refused request says
which limit it met and how to stay under it; nothing is half started.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

# Peers whose X-Forwarded-For is believed: the shipped proxy (loopback by default; ``*`` where the app is
# reachable only through the proxy, as in deploy/compose.yaml). Anyone else could write any address there.
TRUSTED_PROXIES_ENV, DEFAULT_TRUSTED_PROXIES = "EXPLORER_TRUSTED_PROXIES", "127.0.0.1,::1"

# Image passes (epochs x steps x images per step) a run may cost. The dearest seed recipe, S1's baseline
# (50 epochs of 54,000 images, early stopping aside), costs 2.7 million; the lesson's S3 runs 0.2 million.
MAX_RUN_IMAGES_ENV, DEFAULT_MAX_RUN_IMAGES = "EXPLORER_MAX_RUN_IMAGES", 3_000_000
# A step costs at least as much as one of this many images: batch size 1 does not make 54,000 steps an epoch cheap.
MIN_BILLED_BATCH = 32
# After this long a run stops as if its student pressed Stop and keeps its best weights.
RUN_MINUTES_ENV, DEFAULT_RUN_MINUTES = "EXPLORER_RUN_MINUTES", 60.0
# Runs queued or training at once from one client address: a class of 30 behind one NAT, each on a seed of
# their own, shares one address and fits.
RUNS_PER_ADDRESS_ENV, DEFAULT_RUNS_PER_ADDRESS = "EXPLORER_RUNS_PER_ADDRESS", 40
# Bytes a workspace's own runs and uploads may keep in the store (its oldest ended ones go first past it).
WORKSPACE_MB_ENV, DEFAULT_WORKSPACE_MB = "EXPLORER_WORKSPACE_MB", 200
# A run made or opened this recently is kept when the store needs room, like a run on a lesson still going.
RECENT_MINUTES_ENV, DEFAULT_RECENT_MINUTES = "EXPLORER_RECENT_MINUTES", 10.0
# Training images a dataset offers when a request takes them all (its training split less the validation tenth).
# Runs within a doubling of each other, counted from this many image passes (a quick run is 6,000), are one size.
SIZE_UNIT = 20_000
TRAIN_IMAGES = {"fashion-mnist": 54_000, "mnist": 54_000, "cifar10": 45_000, "sign-mnist": 24_710,
                "mnist-sample": 3_600, "digits": 1_617}


class LimitReached(ValueError):
    """A request would take more than its share; the message names the limit and the way under it."""


@dataclass(frozen=True)
class Limits:
    max_run_images: int = DEFAULT_MAX_RUN_IMAGES
    run_seconds: float = DEFAULT_RUN_MINUTES * 60
    runs_per_address: int = DEFAULT_RUNS_PER_ADDRESS
    workspace_bytes: int = DEFAULT_WORKSPACE_MB * 2**20
    recent_seconds: float = DEFAULT_RECENT_MINUTES * 60

    @classmethod
    def from_environment(cls) -> "Limits":
        def number(name: str, default: float) -> float:
            return float(os.environ.get(name) or default)

        return cls(int(number(MAX_RUN_IMAGES_ENV, DEFAULT_MAX_RUN_IMAGES)),
                   number(RUN_MINUTES_ENV, DEFAULT_RUN_MINUTES) * 60,
                   int(number(RUNS_PER_ADDRESS_ENV, DEFAULT_RUNS_PER_ADDRESS)),
                   int(number(WORKSPACE_MB_ENV, DEFAULT_WORKSPACE_MB) * 2**20),
                   number(RECENT_MINUTES_ENV, DEFAULT_RECENT_MINUTES) * 60)

    def check_run_cost(self, images: int) -> None:
        if images > self.max_run_images:
            raise LimitReached(f"this run would cost {images:,} image passes (epochs x steps x images per step); "
                               f"a run on this server may cost at most {self.max_run_images:,}. Use fewer epochs or "
                               f"training images, or a larger batch (set {MAX_RUN_IMAGES_ENV} to allow more)")

    def check_address(self, active_from_address: int) -> None:
        if active_from_address >= self.runs_per_address:
            raise LimitReached(f"{active_from_address} runs from your network are already queued or training, the most "
                               f"this server takes from one address; wait for one to end "
                               f"(set {RUNS_PER_ADDRESS_ENV} to allow more)")


def client_address(peer: str | None, forwarded_for: str | None, trusted: str | None = None) -> str | None:
    """The student's address: the last hop of X-Forwarded-For (the one the proxy added) when the peer is a
    trusted proxy, else the peer itself; None where the server does not know it (Community Cloud)."""
    proxies = {item.strip() for item in (trusted if trusted is not None else
                                          os.environ.get(TRUSTED_PROXIES_ENV, DEFAULT_TRUSTED_PROXIES)).split(",")}
    peer = peer if isinstance(peer, str) else None
    if isinstance(forwarded_for, str) and peer and ("*" in proxies or peer in proxies):
        return forwarded_for.split(",")[-1].strip() or peer
    return peer or None


def run_images(epochs: int, steps_per_epoch: int, batch_size: int) -> int:
    """What a run costs the training slot, in image passes; a step is billed at least MIN_BILLED_BATCH images."""
    return epochs * steps_per_epoch * max(batch_size, MIN_BILLED_BATCH)


def expected_train_images(dataset: str, subset: int | None) -> int:
    """Training images a request will use, known before its data is loaded (an unknown dataset: 60,000)."""
    available = TRAIN_IMAGES.get(dataset, 60_000)
    return min(subset, available) if subset else available


def fair_position(queued_owners: Sequence[str], running_owners: Sequence[str], owner: str) -> int:
    """Where a new run of ``owner`` joins the queue so that owners take turns: an owner's n-th waiting run
    waits behind every other owner's n-th, so one owner's many runs never stand before everyone else's.

    The queue keeps this order as it grows, so inserting before the first run of a later turn suffices."""
    turn = queued_owners.count(owner) + running_owners.count(owner)
    seen: dict[str, int] = {}
    for position, other in enumerate(queued_owners):
        seen[other] = seen.get(other, 0) + 1
        if seen[other] - 1 + running_owners.count(other) > turn:
            return position
    return len(queued_owners)


class Turns:
    """Whose run trains next on this server's slots. Runs are ranked by size class first (the image passes a
    run has left, in doublings of SIZE_UNIT), so a lesson-sized run goes before a long one; within a size class
    the holder that has trained least goes first (least attained service), then queue order. A run that has
    held its slot for ``minimum_turn`` seconds yields it at a step's end to another holder's run of better
    rank: a long run pauses for a short one, and two holders with runs of one size take turns."""

    def __init__(self, minimum_turn: float = 5.0):
        self.minimum_turn = minimum_turn
        self.trained: dict[str, float] = {}  # holder -> seconds its runs held a slot (turns that ended)

    def charge(self, holder: str, seconds: float) -> None:
        self.trained[holder] = self.trained.get(holder, 0.0) + seconds

    def served(self, holder: str, ongoing: dict[str, float]) -> float:
        return self.trained.get(holder, 0.0) + ongoing.get(holder, 0.0)

    def rank(self, run: tuple[str, int], ongoing: dict[str, float]) -> tuple[int, float]:
        """``run`` is (holder, image passes left)."""
        holder, left = run
        return int(math.log2(1 + max(left, 0) / SIZE_UNIT)), self.served(holder, ongoing)

    def order(self, waiting: Sequence[tuple[str, int]], ongoing: dict[str, float]) -> list[int]:
        """Indices of the waiting runs, next first; ``ongoing``: holder -> seconds of turns under way."""
        return sorted(range(len(waiting)), key=lambda i: (self.rank(waiting[i], ongoing), i))

    def should_yield(self, running: tuple[str, int], turn: float, waiting: Sequence[tuple[str, int]],
                     ongoing: dict[str, float]) -> bool:
        """Whether a run that has held its slot for ``turn`` seconds gives it up now."""
        mine = self.rank(running, ongoing)
        return turn >= self.minimum_turn and any(self.rank(other, ongoing) < mine for other in waiting
                                                 if other[0] != running[0])
