"""What the pages draw from one model or one map (Plotly figures, tiled pictures), drawn once and shared.

The library keeps data (maps, scores, trails, decoded grids); what a page draws from them is the ui layer's, kept
here as long as what it was drawn from: a map or a model that leaves its memo takes its figures along. Sessions
that ask for the same figure at once wait for one drawing (``SingleFlightMemo``).
"""
from __future__ import annotations

import threading
import weakref
from typing import Callable, Hashable, TypeVar

from explorer.memo import SingleFlightMemo

Value = TypeVar("Value")
FIGURES_PER_SOURCE = 16  # a map's selections and layer settings, or a model's sweeps: a few MB of JSON at most

_memos: dict[int, SingleFlightMemo] = {}
_lock = threading.Lock()


def drawn_once(source: object, key: Hashable, draw: Callable[[], Value]) -> Value:
    """``draw()``'s value for ``key``, drawn once for ``source`` (a Workbench or a MapResult) and dropped with it."""
    with _lock:
        memo = _memos.get(id(source))
        if memo is None:
            memo = _memos[id(source)] = SingleFlightMemo(FIGURES_PER_SOURCE)
            weakref.finalize(source, _memos.pop, id(source), None)
    return memo.get(key, draw)
