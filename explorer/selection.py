"""Turning a Plotly selection event into image indices.

Plotly numbers points per trace, so each point carries its image's index in ``customdata``; the
first element of customdata is that index whatever else it holds. Streamlit hands a point's
customdata back as a scalar, a list, or (for NumPy-typed arrays) a dict keyed "0", "1", ...
"""
from __future__ import annotations

import numpy as np


def selected_indices(event) -> np.ndarray:
    """Unique image indices of the selected points, in selection order, from a Streamlit chart event."""
    selection = (event or {}).get("selection") or {}
    found: list[int] = []
    for point in selection.get("points", []) or []:
        index = _first_value(point.get("customdata"))
        try:
            found.append(int(index))
        except (TypeError, ValueError):
            continue
    return np.array(list(dict.fromkeys(found)), dtype=np.int64)


def _first_value(data):
    if isinstance(data, dict):
        return data.get("0", next(iter(data.values()), None))
    if isinstance(data, (list, tuple)):
        return data[0] if data else None
    return data


def class_counts(labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, int]:
    """How many selected images fall in each class, largest first."""
    counts = np.bincount(labels, minlength=len(class_names))
    return {class_names[c]: int(counts[c]) for c in np.argsort(-counts, kind="stable") if counts[c]}


def indices_to_text(indices: np.ndarray) -> str:
    """Image indices as short ranges for a link: [3, 4, 5, 9] -> "3-5.9"."""
    ordered = np.unique(np.asarray(indices, dtype=np.int64))
    if not len(ordered):
        return ""
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    runs = np.split(ordered, breaks)
    return ".".join(f"{run[0]}" if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def indices_from_text(text: str, limit: int) -> np.ndarray:
    """The indices ``indices_to_text`` wrote; a ValueError names a malformed part or one past ``limit``."""
    found: list[np.ndarray] = []
    for part in filter(None, text.split(".")):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"{part!r} is not an image index or a range like 3-7")
        start, stop = int(first), int(last or first)
        if stop < start or stop >= limit:
            raise ValueError(f"{part!r} is outside the map's {limit:,} images")
        found.append(np.arange(start, stop + 1))
    return np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)
