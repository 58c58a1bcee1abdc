"""Turning a Plotly selection event into image indices.

Plotly numbers points per trace, so each point carries its image's index in ``customdata``; the
first element of customdata is that index whatever else it holds.
"""
from __future__ import annotations

import numpy as np


def selected_indices(event) -> np.ndarray:
    """Unique image indices of the selected points, in selection order, from a Streamlit chart event."""
    selection = (event or {}).get("selection") or {}
    found: list[int] = []
    for point in selection.get("points", []) or []:
        data = point.get("customdata")
        if data is None:
            continue
        index = data[0] if isinstance(data, (list, tuple)) else data
        try:
            found.append(int(index))
        except (TypeError, ValueError):
            continue
    return np.array(list(dict.fromkeys(found)), dtype=np.int64)


def class_counts(labels: np.ndarray, class_names: tuple[str, ...]) -> dict[str, int]:
    """How many selected images fall in each class, largest first."""
    counts = np.bincount(labels, minlength=len(class_names))
    return {class_names[c]: int(counts[c]) for c in np.argsort(-counts, kind="stable") if counts[c]}
