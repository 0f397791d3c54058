"""Numba kernels of the ``cpu`` backend: binning, compositing and its backward.

Conventions that keep them fast: every array is float32 (or int32/int64
indices) and every float constant is a module-level ``np.float32`` so no
float64 arithmetic sneaks in; kernels are compiled once and cached on disk;
the hot kernels allow FMA contraction, reassociation and reciprocals
(``FASTMATH``, about 15% faster) but not the no-NaN/no-inf assumptions,
so degenerate inputs still behave.

Gaussian records are rows of a ``(M, NCOL)`` float32 array, depth-sorted
front to back, with the columns named by the ``C_*`` indices below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

TILE = 16
FASTMATH = {"contract", "arcp", "nsz", "afn", "reassoc"}

C_U, C_V, C_A, C_B, C_C, C_OP, C_R, C_G, C_BL, C_Z, C_RX, C_RY, C_LEVEL = range(13)
NCOL = 13
NGRAD = 10  # d/du, d/dv, d/da, d/db, d/dc, d/dopacity, d/dr, d/dg, d/db(lue), d/dz

F0 = np.float32(0.0)
F1 = np.float32(1.0)
HALF = np.float32(0.5)
ALPHA_MIN = np.float32(1.0 / 255.0)
ALPHA_MAX = np.float32(0.999)
T_MIN = np.float32(1e-4)
FTILE = np.float32(TILE)
SPAN_PAD = np.float32(0.01)


@njit(cache=True)
def _tile_rect(rec, tiles_x, tiles_y):
    """Inclusive tile range ``(tx0, tx1, ty0, ty1)`` of a record's footprint box."""
    u, v, rx, ry = rec[C_U], rec[C_V], rec[C_RX], rec[C_RY]
    fx_max = np.float32(tiles_x - 1)
    fy_max = np.float32(tiles_y - 1)
    tx0 = min(max(math.floor((u - rx) / FTILE), F0), fx_max)
    tx1 = min(max(math.floor((u + rx) / FTILE), F0), fx_max)
    ty0 = min(max(math.floor((v - ry) / FTILE), F0), fy_max)
    ty1 = min(max(math.floor((v + ry) / FTILE), F0), fy_max)
    return int(tx0), int(tx1), int(ty0), int(ty1)


@njit(parallel=True, cache=True, nogil=True)
def bin_records(recs, tiles_x, tiles_y, n_threads):
    """Counting-sort binning: ``offsets (tiles+1,)`` and ``ids (E,)`` per tile, front to back.

    Records arrive sorted by depth.  Each thread counts and later fills the
    tiles of one contiguous slice of them; a tile's list holds the slices in
    order, so every list comes out depth-sorted with no per-tile sort.
    """
    n_tiles = tiles_x * tiles_y
    m = recs.shape[0]
    n_chunks = max(1, min(n_threads, m // 1024))
    counts = np.zeros((n_chunks, n_tiles), np.int64)
    for c in prange(n_chunks):
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            tx0, tx1, ty0, ty1 = _tile_rect(recs[i], tiles_x, tiles_y)
            for ty in range(ty0, ty1 + 1):
                for tx in range(tx0, tx1 + 1):
                    counts[c, ty * tiles_x + tx] += 1
    offsets = np.zeros(n_tiles + 1, np.int64)
    starts = np.empty((n_chunks, n_tiles), np.int64)
    run = 0
    for t in range(n_tiles):
        offsets[t] = run
        for c in range(n_chunks):
            starts[c, t] = run
            run += counts[c, t]
    offsets[n_tiles] = run
    ids = np.empty(run, np.int32)
    for c in prange(n_chunks):
        fill = starts[c]
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            tx0, tx1, ty0, ty1 = _tile_rect(recs[i], tiles_x, tiles_y)
            for ty in range(ty0, ty1 + 1):
                for tx in range(tx0, tx1 + 1):
                    t = ty * tiles_x + tx
                    ids[fill[t]] = i
                    fill[t] += 1
    return offsets, ids


@njit(cache=True, fastmath=FASTMATH)
def _row_span(rec, py, x_lo, x_hi):
    """Pixel columns ``[a, b]`` (inclusive, clipped to ``[x_lo, x_hi]``) of row ``py`` the footprint may cover.

    Solves ``a dx^2 + 2 b dx dy + c dy^2 <= 2 level`` for ``dx`` and widens the
    interval by SPAN_PAD px against float32 rounding; the caller still tests
    alpha exactly per pixel, so the span only has to be conservative.
    """
    dy = np.float32(py) + HALF - rec[C_V]
    ca, cb, cc, level = rec[C_A], rec[C_B], rec[C_C], rec[C_LEVEL]
    disc = cb * cb * dy * dy - ca * (cc * dy * dy - np.float32(2.0) * level)
    if disc < F0:
        return 1, 0
    sq = math.sqrt(disc)
    xl = rec[C_U] + (-cb * dy - sq) / ca - HALF - SPAN_PAD
    xr = rec[C_U] + (-cb * dy + sq) / ca - HALF + SPAN_PAD
    fa = max(math.ceil(xl), np.float32(x_lo))
    fb = min(math.floor(xr), np.float32(x_hi))
    return int(fa), int(fb)


@njit(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)
def composite_forward(recs, offsets, ids, width, height, tiles_x, bg, color, alpha, depth, t_final, last):
    """Front-to-back blending per tile.

    Writes ``color (H,W,3)``, ``alpha (H,W)``, ``depth (H,W)`` and, for the
    backward pass, ``t_final (H,W)`` (transmittance left) and ``last (H,W)``
    (one past the list position of the last Gaussian blended).
    """
    n_tiles = offsets.shape[0] - 1
    for t in prange(n_tiles):
        y0 = (t // tiles_x) * TILE
        x0 = (t % tiles_x) * TILE
        tw = min(TILE, width - x0)
        th = min(TILE, height - y0)
        T = np.ones(TILE * TILE, np.float32)
        acc_r = np.zeros(TILE * TILE, np.float32)
        acc_g = np.zeros(TILE * TILE, np.float32)
        acc_b = np.zeros(TILE * TILE, np.float32)
        acc_z = np.zeros(TILE * TILE, np.float32)
        done = np.zeros(TILE * TILE, np.bool_)
        row_done = np.zeros(TILE, np.int32)  # finished pixels per row: full rows are skipped
        lst = np.zeros(TILE * TILE, np.int32)
        n_done = 0
        n_px = tw * th
        for k in range(offsets[t], offsets[t + 1]):
            rec = recs[ids[k]]
            u, v = rec[C_U], rec[C_V]
            ca, cb, cc, op = rec[C_A], rec[C_B], rec[C_C], rec[C_OP]
            cr, cg, cbl, cz = rec[C_R], rec[C_G], rec[C_BL], rec[C_Z]
            ry = rec[C_RY]
            r0 = max(int(math.ceil(v - ry - HALF)), y0)
            r1 = min(int(math.floor(v + ry - HALF)), y0 + th - 1)
            for py in range(r0, r1 + 1):
                if row_done[py - y0] == tw:
                    continue
                a, b = _row_span(rec, py, x0, x0 + tw - 1)
                dy = np.float32(py) + HALF - v
                for px in range(a, b + 1):
                    p = (py - y0) * TILE + (px - x0)
                    if done[p]:
                        continue
                    dx = np.float32(px) + HALF - u
                    power = -HALF * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                    al = min(ALPHA_MAX, op * math.exp(power))
                    if al < ALPHA_MIN:
                        continue
                    tt = T[p] * (F1 - al)
                    if tt <= T_MIN:
                        done[p] = True
                        n_done += 1
                        row_done[py - y0] += 1
                        continue
                    w = al * T[p]
                    acc_r[p] += w * cr
                    acc_g[p] += w * cg
                    acc_b[p] += w * cbl
                    acc_z[p] += w * cz
                    T[p] = tt
                    lst[p] = k + 1
            if n_done == n_px:
                break
        for j in range(th):
            for i in range(tw):
                p = j * TILE + i
                y, x = y0 + j, x0 + i
                color[y, x, 0] = acc_r[p] + T[p] * bg[0]
                color[y, x, 1] = acc_g[p] + T[p] * bg[1]
                color[y, x, 2] = acc_b[p] + T[p] * bg[2]
                alpha[y, x] = F1 - T[p]
                depth[y, x] = acc_z[p]
                t_final[y, x] = T[p]
                last[y, x] = lst[p]


@njit(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)
def composite_backward(recs, offsets, ids, width, height, tiles_x, bg, t_final, last,
                       g_color, g_alpha, g_depth, g_entries, g_bg_tiles):
    """Back-walk of :func:`composite_forward`, per tile.

    From the upstream gradients ``g_color (H,W,3)``, ``g_alpha (H,W)``,
    ``g_depth (H,W)`` it writes the gradient of every list entry
    ``g_entries (E, NGRAD)`` (summed per Gaussian by :func:`reduce_entries`)
    and each tile's background gradient ``g_bg_tiles (tiles, 3)``.

    With ``C = sum_i T_i a_i c_i + T_end bg`` (and likewise depth and
    ``alpha = 1 - T_end``), ``dL/da_i = T_i q_i - (B_i) / (1 - a_i)`` where
    ``q_i`` is the upstream gradient dotted with Gaussian i's colour and depth
    and ``B_i`` the upstream gradient dotted with everything blended behind it
    (background included) minus ``g_alpha T_end``; walking back to front
    keeps ``B`` as one number per pixel.  Transmittances are recovered by
    dividing the final one by ``1 - a_i`` (alpha <= 0.999, never 1).
    """
    n_tiles = offsets.shape[0] - 1
    for t in prange(n_tiles):
        y0 = (t // tiles_x) * TILE
        x0 = (t % tiles_x) * TILE
        tw = min(TILE, width - x0)
        th = min(TILE, height - y0)
        T = np.ones(TILE * TILE, np.float32)
        Bv = np.zeros(TILE * TILE, np.float32)
        g0 = np.zeros(TILE * TILE, np.float32)
        g1 = np.zeros(TILE * TILE, np.float32)
        g2 = np.zeros(TILE * TILE, np.float32)
        gd = np.zeros(TILE * TILE, np.float32)
        lst = np.zeros(TILE * TILE, np.int32)
        row_last = np.zeros(TILE, np.int32)  # rows whose pixels all ended before entry k are skipped
        max_last = offsets[t]
        gb0 = F0
        gb1 = F0
        gb2 = F0
        for j in range(th):
            for i in range(tw):
                p = j * TILE + i
                y, x = y0 + j, x0 + i
                tn = t_final[y, x]
                T[p] = tn
                g0[p] = g_color[y, x, 0]
                g1[p] = g_color[y, x, 1]
                g2[p] = g_color[y, x, 2]
                gd[p] = g_depth[y, x]
                Bv[p] = tn * (g0[p] * bg[0] + g1[p] * bg[1] + g2[p] * bg[2] - g_alpha[y, x])
                gb0 += tn * g0[p]
                gb1 += tn * g1[p]
                gb2 += tn * g2[p]
                lst[p] = last[y, x]
                row_last[j] = max(row_last[j], last[y, x])
                max_last = max(max_last, last[y, x])
        g_bg_tiles[t, 0] = gb0
        g_bg_tiles[t, 1] = gb1
        g_bg_tiles[t, 2] = gb2
        for k in range(max_last, offsets[t + 1]):
            for q in range(NGRAD):
                g_entries[k, q] = F0
        for k in range(max_last - 1, offsets[t] - 1, -1):
            rec = recs[ids[k]]
            u, v = rec[C_U], rec[C_V]
            ca, cb, cc, op = rec[C_A], rec[C_B], rec[C_C], rec[C_OP]
            cr, cg, cbl, cz = rec[C_R], rec[C_G], rec[C_BL], rec[C_Z]
            ry = rec[C_RY]
            g_u = F0
            g_v = F0
            g_a = F0
            g_b = F0
            g_c = F0
            g_op = F0
            g_r = F0
            g_g = F0
            g_bl = F0
            g_z = F0
            r0 = max(int(math.ceil(v - ry - HALF)), y0)
            r1 = min(int(math.floor(v + ry - HALF)), y0 + th - 1)
            for py in range(r0, r1 + 1):
                if k >= row_last[py - y0]:
                    continue
                a, b = _row_span(rec, py, x0, x0 + tw - 1)
                dy = np.float32(py) + HALF - v
                for px in range(a, b + 1):
                    p = (py - y0) * TILE + (px - x0)
                    if k >= lst[p]:
                        continue
                    dx = np.float32(px) + HALF - u
                    power = -HALF * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                    gauss = math.exp(power)
                    raw = op * gauss
                    al = min(ALPHA_MAX, raw)
                    if al < ALPHA_MIN:
                        continue
                    inv = F1 / (F1 - al)
                    Ti = T[p] * inv
                    w = al * Ti
                    u0, u1, u2, ud = g0[p], g1[p], g2[p], gd[p]
                    g_r += w * u0
                    g_g += w * u1
                    g_bl += w * u2
                    g_z += w * ud
                    q = u0 * cr + u1 * cg + u2 * cbl + ud * cz
                    ga = Ti * q - inv * Bv[p]
                    Bv[p] += w * q
                    T[p] = Ti
                    if raw <= ALPHA_MAX:
                        g_op += ga * gauss
                        gp = ga * al
                        g_u += gp * (ca * dx + cb * dy)
                        g_v += gp * (cb * dx + cc * dy)
                        g_a += -HALF * gp * dx * dx
                        g_b += -gp * dx * dy
                        g_c += -HALF * gp * dy * dy
            g_entries[k, 0] = g_u
            g_entries[k, 1] = g_v
            g_entries[k, 2] = g_a
            g_entries[k, 3] = g_b
            g_entries[k, 4] = g_c
            g_entries[k, 5] = g_op
            g_entries[k, 6] = g_r
            g_entries[k, 7] = g_g
            g_entries[k, 8] = g_bl
            g_entries[k, 9] = g_z


@njit(cache=True)
def reduce_entries(ids, g_entries, m):
    """Sum the per-entry gradients ``(E, NGRAD)`` into per-record gradients ``(m, NGRAD)``."""
    out = np.zeros((m, NGRAD), np.float32)
    for k in range(ids.shape[0]):
        i = ids[k]
        for q in range(NGRAD):
            out[i, q] += g_entries[k, q]
    return out
