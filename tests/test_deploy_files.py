"""The cloud's environment file and the local requirements name the same packages and lower bounds."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch-cpu": "torch", "opentsne": "opentsne", "pillow": "pillow"}


def _bounds(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*(?:- )?([A-Za-z][\w.-]*)\s*>=\s*([\d.]+)\s*", line)
        if match:
            name = match.group(1).lower()
            found[CONDA_NAMES.get(name, name)] = match.group(2)
    return found


def test_conda_environment_matches_requirements():
    pip = _bounds((ROOT / "requirements.txt").read_text().splitlines())
    conda = _bounds((ROOT / "environment.yml").read_text().splitlines())
    assert pip and conda == pip
    assert "  - pytorch-cpu>=" in (ROOT / "environment.yml").read_text(), "the cloud gets the CPU-only build"
