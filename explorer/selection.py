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
