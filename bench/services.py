"""Redis and RQ workers as processes a benchmark or test starts and stops itself (loopback only)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from redis import Redis

from bench.browser import ROOT, free_port
from explorer.run_store import STORE_ENV

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


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


def start_worker(url: str, log: Path, queue: str | None = None, store: Path | None = None,
                 threads: int | None = None) -> subprocess.Popen:
    """``python -m explorer.worker`` in a process group of its own (so a test can kill it whole, as a dead
    machine); it uses the store path each run names unless ``store`` overrides it."""
    environment = {key: value for key, value in os.environ.items() if key != STORE_ENV}
    environment.update(REDIS_URL=url, PYTHONUNBUFFERED="1", **({STORE_ENV: str(store)} if store else {}))
    command = [sys.executable, "-m", "explorer.worker", *(["--queue", queue] if queue else []),
               *(["--threads", str(threads)] if threads else [])]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, as a machine that dies: nothing gets to clean up."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
