"""Small-tensor work runs faster on one thread.

Fitting and tracking evaluate ~500 landmarks at a time; with several intra-op
threads on a busy machine, thread hand-offs cost 10x the arithmetic.  This
context manager drops torch to one thread and restores the setting after.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def single_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
