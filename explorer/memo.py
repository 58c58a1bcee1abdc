"""A bounded, thread-safe memo that computes each value once however many threads ask at the same moment.

Every Streamlit session runs its script in its own thread; when a class opens the same map at once,
the first thread computes it and the others wait for that result instead of computing it again
(the same per-key lock ``st.cache_data`` holds). The oldest entries go once ``max_entries`` is reached.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Callable, Generic, Hashable, TypeVar

Value = TypeVar("Value")
WAIT_POLL_SECONDS = 0.25


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

    def get(self, key: Hashable, compute: Callable[[], Value], wait: Callable[[], None] | None = None) -> Value:
        """The value for ``key``, computed by exactly one caller while the others wait for it.

        With ``wait``, the computation runs in a thread of its own and the caller calls ``wait()`` every
        quarter second until it is done. If ``wait`` raises (Streamlit stops a script that way when its
        user leaves the page), the caller is gone but the computation finishes and its value is kept,
        for that user's return and for everyone else asking.
        """
        if wait is None:
            return self._get_or_compute(key, compute)
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        outcome: Future = Future()

        def work() -> None:
            try:
                outcome.set_result(self._get_or_compute(key, compute))
            except BaseException as error:
                outcome.set_exception(error)
        threading.Thread(target=work, name=f"memo {key!r}"[:60], daemon=True).start()
        while True:
            try:
                return outcome.result(timeout=WAIT_POLL_SECONDS)
            except FutureTimeout:
                wait()

    def _get_or_compute(self, key: Hashable, compute: Callable[[], Value]) -> Value:
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
