"""The first run says once that the CPU kernels compile; a warm cache says nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vasa3d.render.kernel_cache import is_cached

KERNEL = """
from numba import njit

@njit(cache=True)
def twice(x):
    return 2 * x
"""

RUN = """
import logging, sys
sys.path.insert(0, {folder!r})
import tiny_kernel
from vasa3d.render.kernel_cache import announce_compile, is_cached
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
print("cached before:", is_cached(tiny_kernel.twice))
announce_compile("the tiny kernels", (tiny_kernel.twice,), "a moment")
announce_compile("the tiny kernels", (tiny_kernel.twice,), "a moment")
tiny_kernel.twice(3)
print("cached after:", is_cached(tiny_kernel.twice))
"""


def _run(folder: Path) -> str:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / "cache"))
    return subprocess.run([sys.executable, "-c", RUN.format(folder=str(folder))], env=env, capture_output=True,
                          text=True, timeout=300, check=True).stdout


def test_cold_cache_says_so_once_and_warm_cache_is_silent(tmp_path):
    (tmp_path / "tiny_kernel.py").write_text(KERNEL)
    first = _run(tmp_path)
    assert "cached before: False" in first and "cached after: True" in first
    assert first.count("compiling the tiny kernels: a moment, only on the first run") == 1
    second = _run(tmp_path)
    assert "cached before: True" in second and "compiling" not in second


def test_a_kernel_without_a_cache_is_not_called_cold():
    assert is_cached(object())  # nothing to look into: no claim of a wait
