"""The cloud's environment file and the local requirements name the same packages and lower bounds."""
import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch-cpu": "torch", "opentsne": "opentsne", "pillow": "pillow", "redis-py": "redis"}


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


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            names |= _requirement_names(path.parent / line.split()[1])
        elif match := re.match(r"([A-Za-z][\w.-]*)", line):
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


def _third_party_imports(files) -> dict[str, str]:
    """Top-level module imported -> the first file importing it, for modules outside the standard library
    and outside this project."""
    own = ({path.name for path in ROOT.iterdir() if path.is_dir()} | {path.stem for path in ROOT.glob("*.py")}
           | {path.stem for path in (ROOT / "tests").glob("*.py")})
    found = {}
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, str(file.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("folders, requirements", [
    (("explorer", "ui", "pages"), "requirements.txt"),
    (("bench", "tests", "scripts"), "requirements-dev.txt"),
], ids=["app", "bench-and-tests"])
def test_every_import_is_declared(folders, requirements):
    """Each third-party module the code imports comes from a distribution its requirements file names
    (directly: a module that arrives only as another package's dependency may vanish with it)."""
    files = [path for folder in folders for path in (ROOT / folder).rglob("*.py")]
    if folders[0] == "explorer":
        files += list(ROOT.glob("*.py"))
    declared = _requirement_names(ROOT / requirements)
    providers = importlib.metadata.packages_distributions()
    undeclared = {module: where for module, where in _third_party_imports(files).items()
                  if not {re.sub(r"[-_.]+", "-", name).lower() for name in providers.get(module, [module])} & declared}
    assert not undeclared, f"imported but not in {requirements}: {undeclared}"
