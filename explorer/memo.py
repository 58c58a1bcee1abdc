"""A bounded, thread-safe memo that computes each value once however many threads ask at the same moment.

Every Streamlit session runs its script in its own thread; when a class opens the same map at once,
the first thread computes it and the others wait for that result instead of computing it again
(the same per-key lock ``st.cache_data`` holds). The oldest entries go once ``max_entries`` is reached.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

Value = TypeVar("Value")


class SingleFlightMemo(Generic[Value]):
    def __init__(self, max_entries: int):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, Value] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def values(self) -> list[Value]:
        with self._lock:
            return list(self._values.values())

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The value for ``key``, computed by exactly one caller while the others wait for it."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._key_locks.pop(key, None)
                raise
            with self._lock:
                self._values[key] = value
                self._key_locks.pop(key, None)
                while len(self._values) > self.max_entries:
                    self._values.popitem(last=False)
            return value
