"""A class's runs on each job engine: how long until every student has a model, with 1 or 2 RQ workers.

    python -m bench.workers [--students 30] [--experiments 6 30] [--tiny] [--json FILE]

C students press Train at once on E distinct experiments (student i on experiment i mod E: a lesson's
groups, or E = C when everyone picks a seed of their own), each a quick run (S4 on the digits, 2,000
images, 3 epochs). Engines, side by side on this machine and a fresh store each: the embedded queue
(this server's threads, its default slots), RQ with one worker, RQ with two workers (each given half
the cores: on one box they share them). Each student polls its run every second as the Train page
does. Prints, per engine: when the last student got a model, the median and 95th-percentile wait, and
how many runs trained (identical requests share one run, so E, never C).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.browser import free_port, measured_commit
from bench.services import kill, start_redis, start_worker, stop
from explorer.jobs import JobQueue
from explorer.redis_jobs import RedisJobQueue
from explorer.run_store import RunStore
from explorer.runs import TrainingRequest

QUICK = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 3}, subset=2000)
TINY = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 1}, subset=300)
POLL_SECONDS = 1.0


def class_of(request: TrainingRequest, students: int, experiments: int) -> list[TrainingRequest]:
    return [replace(request, seed=student % experiments) for student in range(students)]


def serve_class(queue, requests: list[TrainingRequest]) -> dict:
    """Every student submits at once, then polls until its run ends; the seconds until each saw its model."""
    started = time.monotonic()
    runs = [queue.submit(request, f"student-{i}") for i, request in enumerate(requests)]
    waits: dict[int, float] = {}
    while len(waits) < len(runs):
        for student, run in enumerate(runs):
            if student not in waits and not queue.status(run, watcher=f"student-{student}").state.active:
                waits[student] = time.monotonic() - started
        time.sleep(POLL_SECONDS / len(runs))
    failed = [run for run in set(runs) if not queue.status(run).has_model]
    if failed:
        raise RuntimeError(f"runs ended without a model: {[queue.status(run).message for run in failed]}")
    ordered = sorted(waits.values())
    return {"last_s": ordered[-1], "median_s": statistics.median(ordered),
            "p95_s": ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], "runs_trained": len(set(runs)),
            "run_s": _mean_training_seconds(queue.store, set(runs))}


def _mean_training_seconds(store: RunStore, runs: set[str]) -> float:
    """How long one run trains once a worker has it (its epochs, from its card)."""
    return statistics.mean(sum(epoch["seconds"] for epoch in store.card(run)["history"]) for run in runs)


def on_workers(workers: int, requests: list[TrainingRequest], folder: Path) -> dict:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port)
    threads = max(1, (os.cpu_count() or 2) // workers)
    processes = [start_worker(url, folder / "workers.log", threads=threads) for _ in range(workers)]
    try:
        store = RunStore(folder / f"store-{workers}-workers", cap_bytes=2**31)
        time.sleep(5)  # the workers import PyTorch before they listen, as they would have long before a lesson
        return {"engine": f"RQ, {workers} worker(s) x {threads} thread(s)", **serve_class(RedisJobQueue(store, url), requests)}
    finally:
        for process in processes:
            kill(process)
        stop(redis)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--experiments", type=int, nargs="+", default=[6, 30])
    parser.add_argument("--tiny", action="store_true", help="4 students, 2 experiments of one epoch on 300 images")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args(argv)
    students, cases, request = (4, [2], TINY) if options.tiny else (options.students, options.experiments, QUICK)
    commit = measured_commit()
    rows = []
    for experiments in cases:
        requests = class_of(request, students, experiments)
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
            embedded = JobQueue(RunStore(Path(folder) / "store-embedded", cap_bytes=2**31))
            rows.append({"experiments": experiments, "engine": "embedded queue (one process)",
                         **serve_class(embedded, requests)})
            rows += [{"experiments": experiments, **on_workers(workers, requests, Path(folder))} for workers in (1, 2)]
    print(f"commit {commit}: {students} students pressing Train at once, {os.cpu_count()} cores")
    print(f"{'E':>3} {'engine':40} {'last model':>10} {'median':>8} {'p95':>8} {'runs':>5} {'one run trains':>15}")
    for row in rows:
        print(f"{row['experiments']:3d} {row['engine']:40} {row['last_s']:9.1f}s {row['median_s']:7.1f}s "
              f"{row['p95_s']:7.1f}s {row['runs_trained']:5d} {row['run_s']:14.1f}s")
    if options.json:
        options.json.write_text(json.dumps({"commit": commit, "students": students, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
