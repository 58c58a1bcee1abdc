"""Debian's redis-server on loopback and RQ workers, as processes the tests start and stop themselves."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from redis import Redis

from explorer.run_store import STORE_ENV

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
needs_redis = pytest.mark.skipif(not Path(REDIS_SERVER).exists(),
                                 reason="no redis-server (Debian: apt-get install redis-server; .ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    """An empty Redis on loopback that keeps nothing on disk: a restart forgets everything, the worst case."""
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    client = Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return server
        except Exception:
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=30)


@contextmanager
def running_redis() -> Iterator[str]:
    port = free_port()
    server = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server)


def start_worker(url: str, log: Path, queue: str | None = None, store: Path | None = None) -> subprocess.Popen:
    """``python -m explorer.worker`` in a process group of its own (so a test can kill it whole, as a dead
    machine); it uses the store path each run names unless ``store`` overrides it."""
    environment = {key: value for key, value in os.environ.items() if key != STORE_ENV}
    environment.update(REDIS_URL=url, PYTHONUNBUFFERED="1", **({STORE_ENV: str(store)} if store else {}))
    command = [sys.executable, "-m", "explorer.worker", *(["--queue", queue] if queue else [])]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, as a machine that dies: nothing gets to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def forget_runs(url: str) -> None:
    """The live state of earlier tests' runs (run ids repeat across tests' stores)."""
    client = Redis.from_url(url)
    keys = list(client.scan_iter("explorer:*"))
    if keys:
        client.delete(*keys)
