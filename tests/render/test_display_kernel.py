"""The vectorised display compositing kernel against the training kernel and the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numba import njit

from vasa3d.render import backend_cpu as B
from vasa3d.render import rasterize
from vasa3d.render._display_kernel import EXP_FLOOR, _exp_neg

from .scenes import head_camera, head_scene, random_scene


@njit
def _exp_all(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = _exp_neg(x[i])
    return out


def test_polynomial_exp_accuracy():
    x = np.linspace(-16, 0, 400_001).astype(np.float32)
    exact = np.exp(x.astype(np.float64))
    rel = np.abs(_exp_all(x) - exact) / exact
    # where an opacity <= 1 can still reach alpha 1/255 (power >= -log 255) it is float32-grade
    assert rel[x >= -np.log(255.0)].max() < 1e-5
    assert rel.max() < 1e-2  # further out it only has to stay far below 1/255
    far = _exp_all(np.array([-40.0, -1e6, -np.inf], np.float32))
    assert np.all(far <= 1.01 * np.exp(EXP_FLOOR)) and np.all(far >= 0)


def _records(g, cam, size):
    arrays = tuple(B._arr(t) for t in g.tensors())
    recs, _ = B._project_fused(arrays, B._degree(g, None), B._camera_args(cam), size, size, 0.3, 0.01, False)
    return recs


@pytest.mark.parametrize("size,bg", [(160, (0.0, 0.0, 0.0)), (77, (0.3, 0.5, 0.2))])
def test_display_kernel_matches_training_kernel_on_a_dense_head(size, bg):
    g = head_scene(20_000, seed=3, sh_degree=1, scale=0.004)
    recs = _records(g, head_camera(size, yaw=25), size)
    bg = np.array(bg, np.float32)
    c1, a1, d1, _ = B._composite_forward(recs, size, size, bg)
    c2, a2, d2 = B._composite_display(recs, size, size, bg)
    assert a1.max() > 0.999 and (a1 > 0.5).mean() > 0.3  # opaque head: early termination is exercised
    for name, x, y in (("color", c1, c2), ("alpha", a1, a2), ("depth", d1, d2)):
        assert np.abs(x - y).max() <= 1e-4, name
        assert np.abs(x - y).mean() <= 1e-6, name


def test_display_path_matches_reference_on_odd_sizes():
    g = random_scene(3000, seed=7, sh_degree=2, spread=0.1, scale=0.006)
    for w, h in ((1, 1), (17, 33), (64, 9)):
        cam = head_camera(max(w, h))
        with torch.no_grad():
            fast = rasterize(g, cam, w, h, backend="cpu")
            ref = rasterize(g, cam, w, h, backend="torch")
        for name in ("color", "alpha", "depth"):
            assert (getattr(fast, name) - getattr(ref, name)).abs().max() <= 1e-4, (w, h, name)
