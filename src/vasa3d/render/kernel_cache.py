"""Say once, before numba compiles CPU kernels that its on-disk cache lacks, that the wait is expected.

numba compiles a ``cache=True`` kernel on its first call and keeps the machine
code on disk (``NUMBA_CACHE_DIR``, or ``__pycache__`` beside the source), so
only the first run after an install or a change of the kernels' source waits.
"""

from __future__ import annotations

import logging
from functools import cache

log = logging.getLogger("vasa3d")


def is_cached(dispatcher) -> bool:
    """Whether numba's on-disk cache holds ``dispatcher`` compiled from its current source (any signature)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # numba internals moved, or a kernel without a cache: do not claim a wait we cannot see
        return True


def announce_compile(what: str, dispatchers: tuple, duration: str) -> None:
    """Log one line, once per process and ``what``, when any of ``dispatchers`` will compile from scratch.

    Example: ``announce_compile("the CPU rasterizer kernels", (K.composite_forward,), "about a minute")``
    logs "compiling the CPU rasterizer kernels: about a minute, only on the first run".
    """
    _announce_once(what, tuple(dispatchers), duration)


@cache
def _announce_once(what: str, dispatchers: tuple, duration: str) -> None:
    if not all(is_cached(d) for d in dispatchers):
        log.info("compiling %s: %s, only on the first run (numba keeps them on disk)", what, duration)
