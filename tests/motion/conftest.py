import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/motion helpers (streaming_check.py)

import numpy as np
import pytest

SR = 16000


def syllables(seconds: float = 4.0, rate_hz: float = 4.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A voiced buzz whose loudness rises and falls like syllables, with light background noise."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.clip(np.sin(2 * np.pi * rate_hz / 2 * t), 0, None) ** 2
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    buzz = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / sr)) * 0.5
    noise = 0.001 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * env * buzz + noise).astype(np.float32)



@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread (and do not fight other jobs for the cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
