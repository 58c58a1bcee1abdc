"""A hundred sessions come, train a quick run and leave: the server's memory comes back to where it was and
the run store stays within its cap. Students speak Streamlit's websocket protocol (bench/sessions.py), so
a hundred of them cost this 2-core machine little more than the server they test."""
import asyncio
import time

from bench.browser import memory_mb, running_app
from bench.sessions import Interaction, Student
from explorer.limits import RECENT_MINUTES_ENV
from explorer.run_store import CAP_ENV, STORE_ENV, RunStore

SESSIONS, AT_ONCE, DISTINCT_RUNS = 100, 10, 7
# Two one-epoch runs of S4 on the digits fit (a run: ~0.15 MB of weights, test images and replay, compressed).
CAP_MB = 0.35
RSS_GROWTH_LIMIT_MB = 200


async def visit(number: int, url: str, seed: int) -> list[str]:
    """One student: the start page, the Train page, a one-epoch run, Corrupt & reconstruct, gone."""
    async with Student(number, url) as student:
        errors = []
        for step in (Interaction("open the start page", page=""), Interaction("open Train", page="train"),
                     Interaction("train", widgets={"Epochs": 1, "Seed": seed}, press="Train"),
                     Interaction("open Corrupt & reconstruct", page="reconstruct")):
            errors += (await student.do(step))[1]
        return errors


async def wave(url: str, numbers: range, first_seed: int = 0) -> list[str]:
    """Students side by side; of every DISTINCT_RUNS students, those with equal seeds ask for one run."""
    results = await asyncio.gather(*(visit(number, url, first_seed + number % DISTINCT_RUNS) for number in numbers))
    return [error for errors in results for error in errors]


def wait_until_runs_end(store: RunStore, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while any((store.status(run) or {}).get("state") in ("queued", "running") for run in store.run_ids()):
        assert time.monotonic() < deadline, "runs still training"
        time.sleep(0.2)


def settled_rss(pid: int, timeout: float = 60.0) -> float:
    """The server's resident memory once it stops moving (within 5 MB over 3 s): let-go sessions freed, runs'
    threads gone, however busy the machine is."""
    readings, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        readings = (readings + [memory_mb(pid, "VmRSS")])[-13:]
        if len(readings) == 13 and max(readings) - min(readings) < 5:
            break
        time.sleep(0.25)
    return readings[-1]


def test_a_hundred_sessions_come_train_and_leave(tmp_path):
    store = RunStore(tmp_path / "store", cap_bytes=int(CAP_MB * 2**20))
    environment = {STORE_ENV: str(store.root), CAP_ENV: str(CAP_MB), "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "2",
                   RECENT_MINUTES_ENV: "0"}  # every run here was just made: the cap itself is tested
    with running_app(environment=environment) as (url, server):
        assert asyncio.run(wave(url, range(AT_ONCE), first_seed=100)) == []  # caches every student needs, loaded once
        wait_until_runs_end(store)
        start = settled_rss(server.pid)
        errors = []
        for first in range(0, SESSIONS, AT_ONCE):
            errors += asyncio.run(wave(url, range(first, first + AT_ONCE)))
        wait_until_runs_end(store)
        end = settled_rss(server.pid)  # disconnected sessions are let go after 2 s
    print(f"server RSS {start:.0f} MB after warming up, {end:.0f} MB after {SESSIONS} sessions; "
          f"store {store.total_size() / 2**20:.2f} MB in {len(store.run_ids())} runs (cap {CAP_MB} MB)")
    assert errors == []
    assert end - start < RSS_GROWTH_LIMIT_MB
    assert store.total_size() <= store.cap_bytes and 0 < len(store.run_ids()) < DISTINCT_RUNS
