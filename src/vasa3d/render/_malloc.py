"""Keep glibc from handing large PyTorch temporaries back to the OS after every op.

By default glibc serves allocations above 128 KiB (adapting up to 32 MiB)
with fresh ``mmap`` calls and unmaps them on free, so every
``(N, 3, 3)``-sized temporary of a render costs page faults.  Raising the
mmap threshold to its maximum and the trim threshold with it keeps those
blocks in the heap for reuse; on the torch paths of this package that
roughly doubles the speed.  A no-op on systems without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_MAX = 32 * 1024 * 1024  # glibc's upper bound for M_MMAP_THRESHOLD on 64-bit
_TRIM = 512 * 1024 * 1024


def raise_mmap_threshold() -> bool:
    """Apply the thresholds; return whether glibc accepted them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM))
