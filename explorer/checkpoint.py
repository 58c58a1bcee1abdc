"""Checkpoints: weights as ``.safetensors`` plus a JSON model card; nothing is ever unpickled.

Both files are written to a temporary name and renamed into place, so an interrupted save never
leaves a half-written checkpoint. Loading rebuilds the architecture the card names and checks the
weights against it tensor by tensor, saying exactly what differs.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from .files import atomic_write
from .models import ModelConfigError, create_model, model_info

CARD_VERSION = 1
SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = "resconv-128-fashion"  # the app's first screen and the benchmark's model


class CheckpointError(ValueError):
    """A checkpoint cannot be used: the message says which file and what is wrong."""


@dataclass
class Checkpoint:
    model: nn.Module
    card: dict


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """``run/s1`` or ``run/s1.safetensors`` or ``run/s1.json`` -> the two files of that checkpoint."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def library_versions() -> dict[str, str]:
    import numpy
    import safetensors

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__}


def weights_bytes(model: nn.Module) -> bytes:
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    return save_safetensors_bytes(state)


def make_card(model: nn.Module, **fields) -> dict:
    """The card's fixed part (architecture and versions); callers add dataset, metrics and the rest."""
    return {"card_version": CARD_VERSION, "model": model.model_id, "config": dict(model.config),
            "latent_shape": list(model.latent_shape), "libraries": library_versions(), **fields}


def checkpoint_files(model: nn.Module, card: dict) -> tuple[bytes, bytes]:
    """The two files' contents; the card records the weights' SHA-256 so a mismatched pair is caught."""
    data = weights_bytes(model)
    card = {**card, "weights_sha256": hashlib.sha256(data).hexdigest()}
    return data, (json.dumps(card, indent=2) + "\n").encode()


def save_checkpoint(path: str | Path, model: nn.Module, card: dict) -> tuple[Path, Path]:
    """Write ``path.safetensors`` and ``path.json``, each atomically."""
    weights_path, card_path = checkpoint_paths(path)
    data, card_data = checkpoint_files(model, card)
    atomic_write(weights_path, data)
    atomic_write(card_path, card_data)
    return weights_path, card_path


def parse_card(card_bytes: bytes, name: str = "model card") -> dict:
    try:
        card = json.loads(card_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{name}: not a valid JSON model card ({error})") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"{name}: a model card must be a JSON object")
    missing = [key for key in ("model", "config") if key not in card]
    if missing:
        raise CheckpointError(f"{name}: the model card lacks {', '.join(missing)}")
    return card


# What a card may ask for before anything is built: every shipped model lies well inside (the largest,
# ResConv-128, has width 32 and a 128-d latent); a card asking for more is refused, not allocated.
CONFIG_RANGES: dict[str, tuple[float, float]] = {"channels": (1, 3), "size": (8, 64), "latent_dim": (1, 4096),
                                                 "width": (1, 256), "embedding_dim": (1, 1024), "dropout": (0.0, 0.9)}
MAX_HEADER_BYTES = 1 << 20


def check_card_config(config) -> None:
    """Refuse a card's configuration outside what this app builds, naming the value and its range."""
    if not isinstance(config, dict):
        raise CheckpointError("the model card's config must be a JSON object")
    for key, value in config.items():
        if key not in CONFIG_RANGES:
            raise CheckpointError(f"the model card's config has an unknown setting {key!r}")
        low, high = CONFIG_RANGES[key]
        integral = isinstance(low, int)
        if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)) or not low <= value <= high:
            raise CheckpointError(f"the model card's {key} is {value!r}; this app builds models with {key} "
                                  f"{'a whole number ' if integral else ''}from {low} to {high}")


def build_from_card(card: dict, device: str | None = None) -> nn.Module:
    """The card's model; on the ``meta`` device nothing is allocated, so its shapes cost nothing to check."""
    check_card_config(card["config"])
    try:
        model_info(card["model"])
        with torch.device(device or "cpu"):
            return create_model(card["model"], **card["config"])
    except ModelConfigError as error:
        raise CheckpointError(f"the model card describes a model this version cannot build: {error}") from None


def header_shapes(weights: bytes, name: str) -> dict[str, tuple[int, ...]]:
    """The tensors' shapes a ``.safetensors`` file declares, read from its JSON header alone."""
    problem = None
    if len(weights) < 8:
        problem = "the file is too short"
    else:
        length = int.from_bytes(weights[:8], "little")
        if length > min(MAX_HEADER_BYTES, len(weights) - 8):
            problem = f"its header declares {length:,} bytes"
        else:
            try:
                header = json.loads(weights[8:8 + length])
                return {key: tuple(entry["shape"]) for key, entry in header.items() if key != "__metadata__"}
            except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, AttributeError) as error:
                problem = f"its header is not valid ({error})"
    raise CheckpointError(f"{name}: not a readable .safetensors file ({problem}); "
                          "pickled .pt/.pth files are refused for safety")


def load_checkpoint_bytes(weights: bytes, card_bytes: bytes, name: str = "checkpoint") -> Checkpoint:
    """Load an uploaded or read checkpoint; every refusal names the problem precisely."""
    card = parse_card(card_bytes, f"{name} card")
    digest = card.get("weights_sha256")
    if digest and hashlib.sha256(weights).hexdigest() != digest:
        raise CheckpointError(f"{name}: the weights file is not the one this card was written for "
                              "(SHA-256 differs): it was changed, truncated, or paired with another card")
    _check_shapes(build_from_card(card, device="meta"), header_shapes(weights, name), name)
    model = build_from_card(card)
    try:
        state = load_safetensors_bytes(weights)
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(f"{name}: not a readable .safetensors file ({error}); "
                              "pickled .pt/.pth files are refused for safety") from None
    _check_shapes(model, {key: tuple(value.shape) for key, value in state.items()}, name)
    model.load_state_dict(state)
    model.eval()
    return Checkpoint(model, card)


def _check_shapes(model: nn.Module, found: dict[str, tuple[int, ...]], name: str) -> None:
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        problems.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
    wrong = [f"{key} is {found[key]} but {model.model_id} needs {shape}"
             for key, shape in expected.items() if key in found and found[key] != shape]
    if wrong:
        problems.append(f"{len(wrong)} tensors of the wrong shape ({'; '.join(wrong[:3])})")
    if problems:
        raise CheckpointError(f"{name}: the weights do not fit {model.model_id} with config {model.config}: "
                              + "; ".join(problems))


def check_image_shape(checkpoint: Checkpoint, shape: tuple[int, ...], name: str, dataset: str) -> None:
    """Refuse images of another shape than the model was built for (channels, size), naming both."""
    config = checkpoint.model.config
    wanted = (config["channels"], config["size"], config["size"])
    if tuple(shape) != wanted:
        raise CheckpointError(f"{name} was built for {'x'.join(map(str, wanted))} images but {dataset} has "
                              f"{'x'.join(map(str, shape))}")


def load_checkpoint(path: str | Path) -> Checkpoint:
    weights_path, card_path = checkpoint_paths(path)
    for file in (weights_path, card_path):
        if not file.is_file():
            raise CheckpointError(f"{file} not found (a checkpoint is a .safetensors file plus its .json card)")
    return load_checkpoint_bytes(weights_path.read_bytes(), card_path.read_bytes(), weights_path.stem)


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Checkpoint stems in a folder (each has both files), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.with_suffix("") for p in folder.glob("*.safetensors") if p.with_suffix(".json").is_file())


def read_card(path: str | Path) -> dict:
    _, card_path = checkpoint_paths(path)
    return parse_card(card_path.read_bytes(), str(card_path))


def shipped_cards() -> dict[str, dict]:
    """Shipped checkpoint stems -> their model cards (cheap: reads JSON only)."""
    return {stem.name: read_card(stem) for stem in list_checkpoints(SHIPPED_FOLDER)}


def load_shipped(name: str) -> Checkpoint:
    return load_checkpoint(SHIPPED_FOLDER / name)
