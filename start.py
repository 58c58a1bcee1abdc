"""Start the app in a virtual environment of its own: ``python3 start.py`` (Windows: ``py start.py``).

A stock Debian or Ubuntu Python refuses ``pip install`` outside a virtual environment (PEP 668), so
this creates ``.venv`` beside the app on the first start, installs ``requirements.txt`` into it (again
only when that file changes) and runs ``streamlit run app.py`` with it. Arguments after the options
go to Streamlit (``python3 start.py --server.port 8502``).

``--cpu-torch`` installs PyTorch's CPU-only build on Linux (about 0.2 GB to download instead of about 3 GB
with CUDA); elsewhere PyPI's PyTorch is already the small build.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REQUIREMENTS = ROOT / "requirements.txt"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
OLDEST_PYTHON = (3, 10)


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def create_venv(folder: Path) -> None:
    """A virtual environment with pip. Where the system Python lacks ensurepip (Debian without the
    python3-venv package) the system's own pip installs pip into it instead."""
    try:
        venv.create(folder, with_pip=True)
        return
    except (subprocess.CalledProcessError, OSError):
        pass
    venv.create(folder, with_pip=False, clear=True)
    bootstrap = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv_python(folder)), "install", "pip"])
    if bootstrap.returncode != 0:
        sys.exit(f"Could not create a virtual environment with pip in {folder}: this Python has neither "
                 "ensurepip nor pip. On Debian or Ubuntu: sudo apt install python3-venv, then start again.")


def install_requirements(folder: Path, cpu_torch: bool) -> None:
    """Install requirements.txt unless this very file was installed before (its hash is kept in the venv)."""
    stamp = folder / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + bytes(cpu_torch)).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    pip = [str(venv_python(folder)), "-m", "pip", "install", "--disable-pip-version-check"]
    print(f"Installing the app's requirements into {folder} (the first time takes a few minutes)...", flush=True)
    if cpu_torch:
        subprocess.run([*pip, "torch", "torchvision", "--index-url", CPU_TORCH_INDEX], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Other arguments are passed to 'streamlit run'.")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="where the environment lives (.venv)")
    parser.add_argument("--cpu-torch", action="store_true", help="PyTorch's CPU-only build (Linux; smaller)")
    options, streamlit_arguments = parser.parse_known_args(argv)
    if sys.version_info < OLDEST_PYTHON:
        sys.exit(f"Python {'.'.join(map(str, OLDEST_PYTHON))} or newer is needed; this is {sys.version.split()[0]}.")
    folder = options.venv.resolve()
    if not venv_python(folder).exists():
        print(f"Creating a virtual environment in {folder}...", flush=True)
        create_venv(folder)
    try:
        install_requirements(folder, options.cpu_torch)
    except subprocess.CalledProcessError as error:
        sys.exit(f"Installing the requirements failed (exit {error.returncode}); see pip's message above.")
    command = [str(venv_python(folder)), "-m", "streamlit", "run", str(ROOT / "app.py"), *streamlit_arguments]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.call(command)
    os.execv(command[0], command)  # the server takes this process's place: Ctrl+C and signals reach it directly


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
