"""The README's start command, as a newcomer runs it: a fresh folder, the system's own Python, nothing else.

What it reuses from this machine: pip's configuration and its local package files (torch's CUDA build
comes from disk here; elsewhere it is downloaded) and pip's cache. What it does not: any virtual
environment, the Python on our PATH (pyenv's), or a package installed beforehand.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bench.browser import free_port

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
INSTALL_SECONDS = 900
INSTALL_GB = 8  # torch's CUDA build makes the environment about 5.5 GB; pip unpacks beside it
SKIPPED = {".git", ".venv", ".venv-floors", "static", "test-artifacts", "__pycache__", ".pytest_cache"}

pytestmark = pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system Python at /usr/bin/python3")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
            return answer.read() == b"ok"
    except OSError:
        return False


def readme_start_command() -> list[str]:
    """The first command block of the README: what a newcomer copies."""
    block = re.search(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S).group(1)
    words = shlex.split(block.strip())
    assert words[:2] == ["python3", "start.py"], f"the README starts the app with {block!r}"
    return words


def _start(folder: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """The README's first command, with a port of our own, from a shell with only the system's PATH."""
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYENV", "VIRTUAL_ENV"))}
    environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    environment.pop("PYTHONPATH", None)
    command = [str(SYSTEM_PYTHON), *readme_start_command()[1:], "--server.port", str(port)]
    server = subprocess.Popen(command, cwd=folder,
                              env=environment, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
    return server, port


def _wait_for_health(server: subprocess.Popen, port: int, seconds: float, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if _healthy(port):
            return time.monotonic() - started
        assert server.poll() is None, f"start.py ended with {server.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no healthy server after {seconds} s:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, 15)
    server.wait(timeout=30)


@pytest.fixture
def newcomer_folder(tmp_path):
    """A copy of the app without any environment; removed afterwards (pytest keeps old temporary
    folders, and three 5.5 GB environments fill a CI disk)."""
    free_gb = shutil.disk_usage(tmp_path).free / 1e9
    if free_gb < INSTALL_GB:
        pytest.skip(f"the start command installs about {INSTALL_GB} GB; {tmp_path} has {free_gb:.1f} GB free")
    folder = tmp_path / "latent-explorer"
    shutil.copytree(ROOT, folder, ignore=lambda _, names: [name for name in names if name in SKIPPED])
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_start_command_creates_its_environment_then_reuses_it(newcomer_folder, tmp_path):
    folder = newcomer_folder
    log = tmp_path / "start.log"
    server, port = _start(folder, log)
    try:
        _wait_for_health(server, port, INSTALL_SECONDS, log)
    finally:
        _stop(server)
    assert (folder / ".venv" / "bin" / "streamlit").exists(), "the app's own environment holds streamlit"
    assert "Installing the app's requirements" in log.read_text()

    log.write_text("")
    server, port = _start(folder, log)
    try:
        seconds = _wait_for_health(server, port, 120, log)
    finally:
        _stop(server)
    assert "Installing" not in log.read_text(), "an unchanged requirements.txt is not installed again"
    assert seconds < 60
