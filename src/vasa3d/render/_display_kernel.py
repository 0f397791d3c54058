"""Display compositing: the no-gradient twin of :func:`._kernels.composite_forward`, vectorised.

The training kernel walks each Gaussian's exact row span one pixel at a time,
calling libm's ``exp`` and branching on every pixel; at 384x384 that is about
20 ns per blended pixel.  For display nothing has to be kept for a backward
pass, so this kernel evaluates each Gaussian on whole 16-pixel tile rows with
no branch in the pixel loop (LLVM turns it into AVX2 / AVX-512 vector code):

* ``exp`` is :func:`_exp_neg`, a Cody-Waite range reduction with a degree-6
  polynomial and a power of two built from five selects (no bit casts, so
  numba vectorises it), accurate to about 2 ulp on the range that matters;
* skipping (alpha < 1/255), clamping (0.999) and early termination
  (transmittance <= 1e-4, the Gaussian that would cross it not blended) are
  the same rules as the training kernel, written as selects on a per-pixel
  live mask instead of branches;
* a tile stops when every pixel has terminated, checked every 16 Gaussians,
  and a row whose pixels have all terminated is skipped.

Results match the training kernel to float rounding (tests compare both with
the plain-torch reference).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import (ALPHA_MAX, C_A, C_B, C_BL, C_C, C_G, C_LEVEL, C_OP, C_R, C_RX, C_RY, C_U, C_V, C_Z, F0, F1,
                       FASTMATH, HALF, T_MIN, TILE)

EXP_FLOOR = np.float32(-16.0)  # exp(-16) * opacity < 1/255: pixels this far out are skipped anyway
INV16 = np.float32(1.0 / 16.0)
P2 = np.float32(1.0 / 2.0)
P3 = np.float32(1.0 / 6.0)
P4 = np.float32(1.0 / 24.0)
P5 = np.float32(1.0 / 120.0)
P6 = np.float32(1.0 / 720.0)
BLOCK = 4  # a tile is (TILE / BLOCK)^2 blocks of BLOCK x BLOCK pixels, one vector of LANES each
BLOCKS_X = TILE // BLOCK
NBLOCK = BLOCKS_X * BLOCKS_X
LANES = BLOCK * BLOCK
FBLOCK = np.float32(BLOCK)
CHECK_EVERY = 16  # Gaussians between two "has every pixel of the tile terminated?" checks


@njit(inline="always", fastmath={"contract", "nsz"})
def _exp_neg(x):
    """``exp(x)`` for float32 ``x <= 0`` (values below EXP_FLOOR give about exp(EXP_FLOOR)), branch-free.

    ``exp(x) = exp(x / 16)^16``: the degree-6 Taylor polynomial of ``exp`` on
    ``x / 16`` and four squarings, all multiply-adds, so numba vectorises it.
    Relative error about 2e-6 for ``x >= -5.6`` (the range where an opacity
    <= 1 can still reach alpha 1/255; below it the caller skips the pixel).
    """
    r = (x if x > EXP_FLOOR else EXP_FLOOR) * INV16
    p = F1 + r * (F1 + r * (P2 + r * (P3 + r * (P4 + r * (P5 + r * P6)))))
    p = p * p
    p = p * p
    p = p * p
    return p * p


@njit(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)
def composite_display(recs, offsets, ids, width, height, tiles_x, bg, color, alpha, depth):
    """Front-to-back blending per tile, for display: ``color (H,W,3)``, ``alpha (H,W)``, ``depth (H,W)``.

    Same inputs as :func:`._kernels.composite_forward` (depth-sorted records
    and per-tile lists from :func:`._kernels.bin_records`); writes no backward state.

    A 16x16 tile is held as 16 blocks of 4x4 pixels, one 16-lane vector each
    (buffers indexed ``[block, lane]``), and a Gaussian is evaluated on the
    blocks its footprint box touches: a small Gaussian costs a few vectors,
    not a vector per row.  Indexing with the lane loop's own counter lets numba
    drop its negative-index check, which keeps that loop vectorised.  A
    terminated pixel keeps its transmittance negated, so it blends nothing more.
    """
    n_tiles = offsets.shape[0] - 1
    for t in prange(n_tiles):
        y0 = (t // tiles_x) * TILE
        x0 = (t % tiles_x) * TILE
        tw = min(TILE, width - x0)
        th = min(TILE, height - y0)
        # one buffer for all per-pixel state, [quantity, block, lane]: with a single base pointer
        # LLVM sees that the rows cannot overlap and emits no run-time alias checks per block
        buf = np.zeros((7, NBLOCK, LANES), np.float32)  # T, r, g, b, depth, pixel centre x, y
        block_live = np.ones(NBLOCK, np.bool_)
        for b in range(NBLOCK):
            for q in range(LANES):
                i = (b % BLOCKS_X) * BLOCK + q % BLOCK
                j = (b // BLOCKS_X) * BLOCK + q // BLOCK
                buf[5, b, q] = np.float32(x0 + i) + HALF
                buf[6, b, q] = np.float32(y0 + j) + HALF
                buf[0, b, q] = -F1 if i >= tw or j >= th else F1  # past the image edge: never live
        start = offsets[t]
        for k in range(start, offsets[t + 1]):
            if (k - start) % CHECK_EVERY == 0 and k > start:
                any_live = False
                for b in range(NBLOCK):
                    m = -F1
                    for q in range(LANES):
                        m = max(m, buf[0, b, q])
                    block_live[b] = m > F0
                    any_live = any_live or block_live[b]
                if not any_live:
                    break
            rec = recs[ids[k]]
            u, v = rec[C_U], rec[C_V]
            ca, cb, cc, op = rec[C_A], rec[C_B], rec[C_C], rec[C_OP]
            cr, cg, cbl, cz = rec[C_R], rec[C_G], rec[C_BL], rec[C_Z]
            rx, ry = rec[C_RX], rec[C_RY]
            floor = -rec[C_LEVEL]  # alpha >= 1/255 exactly where power >= -log(opacity * 255)
            bx0 = max(int(math.floor((u - rx - HALF - np.float32(x0)) / FBLOCK)), 0)
            bx1 = min(int(math.floor((u + rx - HALF - np.float32(x0)) / FBLOCK)), BLOCKS_X - 1)
            by0 = max(int(math.floor((v - ry - HALF - np.float32(y0)) / FBLOCK)), 0)
            by1 = min(int(math.floor((v + ry - HALF - np.float32(y0)) / FBLOCK)), BLOCKS_X - 1)
            for by in range(by0, by1 + 1):
                for bx in range(bx0, bx1 + 1):
                    b = by * BLOCKS_X + bx
                    if not block_live[b]:
                        continue
                    for q in range(LANES):
                        dx = buf[5, b, q] - u
                        dy = buf[6, b, q] - v
                        power = -HALF * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                        al = op * _exp_neg(power)
                        al = al if al < ALPHA_MAX else ALPHA_MAX
                        # the 1/255 cut tested on the exponent, so the polynomial's error cannot flip it
                        al = al if power >= floor else F0
                        Tp = buf[0, b, q]
                        w = al * Tp
                        stop = Tp - w <= T_MIN  # also true once terminated (Tp < 0)
                        w = F0 if stop else w
                        buf[1, b, q] += w * cr
                        buf[2, b, q] += w * cg
                        buf[3, b, q] += w * cbl
                        buf[4, b, q] += w * cz
                        buf[0, b, q] = -abs(Tp) if stop else Tp - w
        for b in range(NBLOCK):
            for q in range(LANES):
                i = (b % BLOCKS_X) * BLOCK + q % BLOCK
                j = (b // BLOCKS_X) * BLOCK + q // BLOCK
                if i < tw and j < th:
                    y, x = y0 + j, x0 + i
                    Tp = abs(buf[0, b, q])
                    color[y, x, 0] = buf[1, b, q] + Tp * bg[0]
                    color[y, x, 1] = buf[2, b, q] + Tp * bg[1]
                    color[y, x, 2] = buf[3, b, q] + Tp * bg[2]
                    alpha[y, x] = F1 - Tp
                    depth[y, x] = buf[4, b, q]
