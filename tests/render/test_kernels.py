"""Unit checks of the numba building blocks of the cpu backend."""

from __future__ import annotations

import numpy as np
import pytest

from vasa3d.render import _kernels as K
from vasa3d.render._project_kernel import sorted_records


@pytest.mark.parametrize("n_threads", [1, 3])
def test_binning_matches_brute_force_and_keeps_depth_order(n_threads):
    rng = np.random.default_rng(0)
    m, tiles_x, tiles_y = 5000, 7, 5
    recs = np.zeros((m, K.NCOL), np.float32)
    recs[:, K.C_U] = rng.uniform(-20, 7 * 16 + 20, m)
    recs[:, K.C_V] = rng.uniform(-20, 5 * 16 + 20, m)
    recs[:, K.C_RX] = rng.uniform(0.1, 30, m)
    recs[:, K.C_RY] = rng.uniform(0.1, 30, m)
    offsets, ids = K.bin_records(recs, tiles_x, tiles_y, n_threads)
    for t in range(tiles_x * tiles_y):
        x0, y0 = (t % tiles_x) * 16, (t // tiles_x) * 16
        u, v, rx, ry = (recs[:, c] for c in (K.C_U, K.C_V, K.C_RX, K.C_RY))
        # a record belongs to every tile its box touches (boxes off the image clamp to the border tiles)
        lo_x = np.clip(np.floor((u - rx) / 16), 0, tiles_x - 1)
        hi_x = np.clip(np.floor((u + rx) / 16), 0, tiles_x - 1)
        lo_y = np.clip(np.floor((v - ry) / 16), 0, tiles_y - 1)
        hi_y = np.clip(np.floor((v + ry) / 16), 0, tiles_y - 1)
        tx, ty = x0 // 16, y0 // 16
        expected = np.nonzero((lo_x <= tx) & (tx <= hi_x) & (lo_y <= ty) & (ty <= hi_y))[0]
        assert np.array_equal(ids[offsets[t]:offsets[t + 1]], expected)  # same set, ascending = front to back


def test_radix_sort_is_a_stable_depth_sort():
    rng = np.random.default_rng(1)
    recs = np.zeros((3000, K.NCOL), np.float32)
    recs[:, K.C_Z] = rng.choice(rng.uniform(0.01, 50, 300).astype(np.float32), 3000)  # many ties
    keep = rng.random(3000) < 0.8
    out, idx = sorted_records(recs, keep)
    expected = np.nonzero(keep)[0]
    expected = expected[np.argsort(recs[expected, K.C_Z], kind="stable")]
    assert np.array_equal(idx, expected)
    assert np.array_equal(out, recs[expected])
