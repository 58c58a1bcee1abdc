"""Allocator settings that keep a long-running process's memory close to what it actually uses.

glibc's malloc serves large blocks with mmap and hands them back on free, but after the first such
free it raises its mmap threshold (up to 32 MB), so later image batches and activation tensors land
in the heap, which it rarely returns. In the app that grew the server's peak memory by ~250 MB over
one tour of the pages; a fixed 1 MB threshold keeps each large tensor's memory for as long as it lives.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
FIXED_THRESHOLD_BYTES = 1 << 20


@functools.cache  # app.py runs on every click; the settings need setting once per process
def return_freed_memory_promptly() -> bool:
    """Fix glibc's mmap and trim thresholds; False where the C library is not glibc (macOS, musl, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, FIXED_THRESHOLD_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, FIXED_THRESHOLD_BYTES))
