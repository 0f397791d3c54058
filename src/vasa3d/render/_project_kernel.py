"""Numba twin of :func:`.projection.project` and its analytic backward.

Same maths, same culling rules, same stable front-to-back order (an LSD
radix sort on the float bits of the depth), written as one fused pass so a
frame does not pay for dozens of PyTorch ops.  :func:`project_backward`
differentiates it by hand (classic mode; the antialiased compensation goes
through the PyTorch projection instead).  The tests hold both to the
PyTorch version and its autograd.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import FASTMATH, C_A, C_B, C_BL, C_C, C_G, C_LEVEL, C_OP, C_R, C_RX, C_RY, C_U, C_V, C_Z, NCOL

F0 = np.float32(0.0)
F1 = np.float32(1.0)
F2 = np.float32(2.0)
HALF = np.float32(0.5)
ALPHA_MIN = np.float32(1.0 / 255.0)
INV_ALPHA_MIN = np.float32(255.0)
GROW = np.float32(1.0001)
PAD = np.float32(1e-3)
NORM_EPS = np.float32(1e-12)
LIM = np.float32(0.3 * 0.5)

SH_C0 = np.float32(0.28209479177387814)
SH_C1 = np.float32(0.4886025119029199)
SH_C2_0 = np.float32(1.0925484305920792)
SH_C2_1 = np.float32(-1.0925484305920792)
SH_C2_2 = np.float32(0.31539156525252005)
SH_C2_3 = np.float32(-1.0925484305920792)
SH_C2_4 = np.float32(0.5462742152960396)
SH_C3_0 = np.float32(-0.5900435899266435)
SH_C3_1 = np.float32(2.890611442640554)
SH_C3_2 = np.float32(-0.4570457994644658)
SH_C3_3 = np.float32(0.3731763325901154)
SH_C3_4 = np.float32(-0.4570457994644658)
SH_C3_5 = np.float32(1.445305721320277)
SH_C3_6 = np.float32(-0.5900435899266435)
F3 = np.float32(3.0)
F4 = np.float32(4.0)


@njit(cache=True, inline="always")
def _sh_channel(sh, i, ch, degree, x, y, z):
    out = SH_C0 * sh[i, 0, ch]
    if degree >= 1:
        out = out - SH_C1 * y * sh[i, 1, ch] + SH_C1 * z * sh[i, 2, ch] - SH_C1 * x * sh[i, 3, ch]
        if degree >= 2:
            xx = x * x
            yy = y * y
            zz = z * z
            out = (
                out
                + SH_C2_0 * x * y * sh[i, 4, ch]
                + SH_C2_1 * y * z * sh[i, 5, ch]
                + SH_C2_2 * (F2 * zz - xx - yy) * sh[i, 6, ch]
                + SH_C2_3 * x * z * sh[i, 7, ch]
                + SH_C2_4 * (xx - yy) * sh[i, 8, ch]
            )
            if degree >= 3:
                out = (
                    out
                    + SH_C3_0 * y * (F3 * xx - yy) * sh[i, 9, ch]
                    + SH_C3_1 * x * y * z * sh[i, 10, ch]
                    + SH_C3_2 * y * (F4 * zz - xx - yy) * sh[i, 11, ch]
                    + SH_C3_3 * z * (F2 * zz - F3 * xx - F3 * yy) * sh[i, 12, ch]
                    + SH_C3_4 * x * (F4 * zz - xx - yy) * sh[i, 13, ch]
                    + SH_C3_5 * z * (xx - yy) * sh[i, 14, ch]
                    + SH_C3_6 * x * (xx - F3 * yy) * sh[i, 15, ch]
                )
    return max(out + HALF, F0)


@njit(parallel=True, cache=True, fastmath=FASTMATH, nogil=True)
def project_records(means, quats, log_scales, opacity_logits, sh, degree, W, t, cam_pos,
                    fx, fy, cx, cy, width, height, eps2d, near, antialiased, recs, keep):
    """Fill ``recs (N, NCOL)`` and ``keep (N,)`` for every Gaussian (all float32 inputs)."""
    n = means.shape[0]
    fw = np.float32(width)
    fh = np.float32(height)
    lim_x = LIM * fw / fx
    lim_y = LIM * fh / fy
    x_lo = -(cx / fx + lim_x)
    x_hi = (fw - cx) / fx + lim_x
    y_lo = -(cy / fy + lim_y)
    y_hi = (fh - cy) / fy + lim_y
    for i in prange(n):
        mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
        z = W[2, 0] * mx + W[2, 1] * my + W[2, 2] * mz + t[2]
        keep[i] = False
        if not z > near:
            continue
        x = W[0, 0] * mx + W[0, 1] * my + W[0, 2] * mz + t[0]
        y = W[1, 0] * mx + W[1, 1] * my + W[1, 2] * mz + t[1]
        qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        qn = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), NORM_EPS)
        qw /= qn
        qx /= qn
        qy /= qn
        qz /= qn
        s0 = math.exp(log_scales[i, 0])
        s1 = math.exp(log_scales[i, 1])
        s2 = math.exp(log_scales[i, 2])
        # M = R(q) diag(s): column k is the k-th local axis scaled
        m00 = (F1 - F2 * (qy * qy + qz * qz)) * s0
        m01 = F2 * (qx * qy - qw * qz) * s1
        m02 = F2 * (qx * qz + qw * qy) * s2
        m10 = F2 * (qx * qy + qw * qz) * s0
        m11 = (F1 - F2 * (qx * qx + qz * qz)) * s1
        m12 = F2 * (qy * qz - qw * qx) * s2
        m20 = F2 * (qx * qz - qw * qy) * s0
        m21 = F2 * (qy * qz + qw * qx) * s1
        m22 = (F1 - F2 * (qx * qx + qy * qy)) * s2
        tx = z * min(max(x / z, x_lo), x_hi)
        ty = z * min(max(y / z, y_lo), y_hi)
        j00 = fx / z
        j02 = -fx * tx / (z * z)
        j11 = fy / z
        j12 = -fy * ty / (z * z)
        # rows of J W: (2, 3)
        a00 = j00 * W[0, 0] + j02 * W[2, 0]
        a01 = j00 * W[0, 1] + j02 * W[2, 1]
        a02 = j00 * W[0, 2] + j02 * W[2, 2]
        a10 = j11 * W[1, 0] + j12 * W[2, 0]
        a11 = j11 * W[1, 1] + j12 * W[2, 1]
        a12 = j11 * W[1, 2] + j12 * W[2, 2]
        # rows of J W M
        b00 = a00 * m00 + a01 * m10 + a02 * m20
        b01 = a00 * m01 + a01 * m11 + a02 * m21
        b02 = a00 * m02 + a01 * m12 + a02 * m22
        b10 = a10 * m00 + a11 * m10 + a12 * m20
        b11 = a10 * m01 + a11 * m11 + a12 * m21
        b12 = a10 * m02 + a11 * m12 + a12 * m22
        ca = b00 * b00 + b01 * b01 + b02 * b02
        cb = b00 * b10 + b01 * b11 + b02 * b12
        cc = b10 * b10 + b11 * b11 + b12 * b12
        m01 = b00 * b11 - b01 * b10  # det as a sum of squared minors: stable for needles
        m02 = b00 * b12 - b02 * b10
        m12 = b01 * b12 - b02 * b11
        det_orig = m01 * m01 + m02 * m02 + m12 * m12
        det = det_orig + eps2d * (ca + cc) + eps2d * eps2d
        ca += eps2d
        cc += eps2d
        if not det > F0:
            continue
        op = F1 / (F1 + math.exp(-opacity_logits[i]))
        if antialiased:
            op *= math.sqrt(max(det_orig / det, np.float32(1e-12)))
        if op < ALPHA_MIN:
            continue
        level = math.log(max(op * INV_ALPHA_MIN, F1))
        rx = math.sqrt(F2 * level * ca) * GROW + PAD
        ry = math.sqrt(F2 * level * cc) * GROW + PAD
        u = fx * x / z + cx
        v = fy * y / z + cy
        if not (u + rx > F0 and u - rx < fw and v + ry > F0 and v - ry < fh):
            continue
        dx = mx - cam_pos[0]
        dy = my - cam_pos[1]
        dz = mz - cam_pos[2]
        dn = max(math.sqrt(dx * dx + dy * dy + dz * dz), NORM_EPS)
        dx /= dn
        dy /= dn
        dz /= dn
        rec = recs[i]
        rec[C_U] = u
        rec[C_V] = v
        rec[C_A] = cc / det
        rec[C_B] = -cb / det
        rec[C_C] = ca / det
        rec[C_OP] = op
        rec[C_R] = _sh_channel(sh, i, 0, degree, dx, dy, dz)
        rec[C_G] = _sh_channel(sh, i, 1, degree, dx, dy, dz)
        rec[C_BL] = _sh_channel(sh, i, 2, degree, dx, dy, dz)
        rec[C_Z] = z
        rec[C_RX] = rx
        rec[C_RY] = ry
        rec[C_LEVEL] = level
        keep[i] = True


@njit(cache=True)
def sorted_records(recs, keep):
    """The kept records, stably sorted by depth (LSD radix sort on the bits of positive floats)."""
    n = recs.shape[0]
    m = 0
    for i in range(n):
        if keep[i]:
            m += 1
    idx = np.empty(m, np.int32)
    depth = np.empty(m, np.float32)
    j = 0
    for i in range(n):
        if keep[i]:
            idx[j] = i
            depth[j] = recs[i, C_Z]
            j += 1
    keys = depth.view(np.uint32)  # depths are > 0, so their bit patterns sort like the floats
    idx2 = np.empty(m, np.int32)
    keys2 = np.empty(m, np.uint32)
    for shift in range(0, 32, 8):
        counts = np.zeros(257, np.int64)
        for j in range(m):
            counts[((keys[j] >> shift) & 255) + 1] += 1
        for b in range(256):
            counts[b + 1] += counts[b]
        for j in range(m):
            bucket = (keys[j] >> shift) & 255
            pos = counts[bucket]
            idx2[pos] = idx[j]
            keys2[pos] = keys[j]
            counts[bucket] = pos + 1
        idx, idx2 = idx2, idx
        keys, keys2 = keys2, keys
    out = np.empty((m, NCOL), np.float32)
    for j in range(m):
        out[j] = recs[idx[j]]
    return out, idx


@njit(cache=True, inline="always")
def _sh_basis_grad(k, x, y, z):
    """Value and gradient ``(Y, dY/dx, dY/dy, dY/dz)`` of SH basis function ``k`` at a unit direction."""
    if k == 0:
        return SH_C0, F0, F0, F0
    if k == 1:
        return -SH_C1 * y, F0, -SH_C1, F0
    if k == 2:
        return SH_C1 * z, F0, F0, SH_C1
    if k == 3:
        return -SH_C1 * x, -SH_C1, F0, F0
    xx = x * x
    yy = y * y
    zz = z * z
    if k == 4:
        return SH_C2_0 * x * y, SH_C2_0 * y, SH_C2_0 * x, F0
    if k == 5:
        return SH_C2_1 * y * z, F0, SH_C2_1 * z, SH_C2_1 * y
    if k == 6:
        return SH_C2_2 * (F2 * zz - xx - yy), -F2 * SH_C2_2 * x, -F2 * SH_C2_2 * y, F4 * SH_C2_2 * z
    if k == 7:
        return SH_C2_3 * x * z, SH_C2_3 * z, F0, SH_C2_3 * x
    if k == 8:
        return SH_C2_4 * (xx - yy), F2 * SH_C2_4 * x, -F2 * SH_C2_4 * y, F0
    if k == 9:
        return SH_C3_0 * y * (F3 * xx - yy), SH_C3_0 * np.float32(6.0) * x * y, SH_C3_0 * F3 * (xx - yy), F0
    if k == 10:
        return SH_C3_1 * x * y * z, SH_C3_1 * y * z, SH_C3_1 * x * z, SH_C3_1 * x * y
    if k == 11:
        return (SH_C3_2 * y * (F4 * zz - xx - yy), -F2 * SH_C3_2 * x * y,
                SH_C3_2 * (F4 * zz - xx - F3 * yy), np.float32(8.0) * SH_C3_2 * y * z)
    if k == 12:
        return (SH_C3_3 * z * (F2 * zz - F3 * xx - F3 * yy), -np.float32(6.0) * SH_C3_3 * x * z,
                -np.float32(6.0) * SH_C3_3 * y * z, SH_C3_3 * (np.float32(6.0) * zz - F3 * xx - F3 * yy))
    if k == 13:
        return (SH_C3_4 * x * (F4 * zz - xx - yy), SH_C3_4 * (F4 * zz - F3 * xx - yy),
                -F2 * SH_C3_4 * x * y, np.float32(8.0) * SH_C3_4 * x * z)
    if k == 14:
        return SH_C3_5 * z * (xx - yy), F2 * SH_C3_5 * x * z, -F2 * SH_C3_5 * y * z, SH_C3_5 * (xx - yy)
    return SH_C3_6 * x * (xx - F3 * yy), SH_C3_6 * F3 * (xx - yy), -np.float32(6.0) * SH_C3_6 * x * y, F0


# No fastmath in the backward (IEEE arithmetic): with reassociation the code numba runs right after compiling
# this parallel kernel and the code it loads from its on-disk cache rounded differently (~1e-7), so a
# training run that compiled the kernels (a fresh clone) and one that found them cached gave different
# avatars (Adam turns such noise into whole steps: 0.06 in log-scales after 20 iterations).  Measured at
# 50k Gaussians it costs nothing visible; tests/e2e/test_kill_create.py holds it to the cached code.
@njit(parallel=True, cache=True, nogil=True)
def project_backward(means, quats, log_scales, opacity_logits, sh, degree, W, t, cam_pos,
                     fx, fy, cx, cy, width, height, eps2d, ids, g_recs,
                     g_means, g_quats, g_log_scales, g_logits, g_sh):
    """Gradients of :func:`project_records` (classic mode) for the records ``ids`` (record -> Gaussian).

    ``g_recs (M, 10)`` holds the gradients of each record's u, v, conic a, b, c,
    opacity, r, g, b and depth; the outputs (zero-filled by the caller) get the
    gradients of the raw Gaussian parameters.  Each Gaussian has at most one
    record per camera, so the parallel writes never collide.
    """
    fw = np.float32(width)
    fh = np.float32(height)
    lim_x = LIM * fw / fx
    lim_y = LIM * fh / fy
    x_lo = -(cx / fx + lim_x)
    x_hi = (fw - cx) / fx + lim_x
    y_lo = -(cy / fy + lim_y)
    y_hi = (fh - cy) / fy + lim_y
    n_basis = (degree + 1) * (degree + 1)
    m = ids.shape[0]
    n_chunks = min(m, 64)
    for chunk in prange(n_chunks):
        # small scratch matrices, allocated once per chunk rather than per Gaussian
        s = np.empty(3, np.float32)
        R = np.empty((3, 3), np.float32)
        JW = np.empty((2, 3), np.float32)
        Bm = np.empty((2, 3), np.float32)
        gBm = np.empty((2, 3), np.float32)
        gR = np.empty((3, 3), np.float32)
        gJW = np.empty((2, 3), np.float32)
        for r in range(chunk * m // n_chunks, (chunk + 1) * m // n_chunks):
            _project_backward_one(means, quats, log_scales, opacity_logits, sh, n_basis, W, t, cam_pos,
                                  fx, fy, x_lo, x_hi, y_lo, y_hi, eps2d, ids[r], g_recs[r],
                                  g_means, g_quats, g_log_scales, g_logits, g_sh, s, R, JW, Bm, gBm, gR, gJW)


@njit(cache=True, inline="always")
def _project_backward_one(means, quats, log_scales, opacity_logits, sh, n_basis, W, t, cam_pos,
                          fx, fy, x_lo, x_hi, y_lo, y_hi, eps2d, i, gr,
                          g_means, g_quats, g_log_scales, g_logits, g_sh, s, R, JW, Bm, gBm, gR, gJW):
    """Gradients for one Gaussian ``i`` from its record gradient ``gr``; the last seven arguments are scratch."""
    mx, my, mz = means[i, 0], means[i, 1], means[i, 2]
    x = W[0, 0] * mx + W[0, 1] * my + W[0, 2] * mz + t[0]
    y = W[1, 0] * mx + W[1, 1] * my + W[1, 2] * mz + t[1]
    z = W[2, 0] * mx + W[2, 1] * my + W[2, 2] * mz + t[2]
    # ---- colour: SH in the view direction
    ddx = mx - cam_pos[0]
    ddy = my - cam_pos[1]
    ddz = mz - cam_pos[2]
    dn = max(math.sqrt(ddx * ddx + ddy * ddy + ddz * ddz), NORM_EPS)
    dx = ddx / dn
    dy = ddy / dn
    dz = ddz / dn
    gdx = F0
    gdy = F0
    gdz = F0
    for ch in range(3):
        gcol = gr[6 + ch]
        raw = F0
        for k in range(n_basis):
            raw += _sh_basis_grad(k, dx, dy, dz)[0] * sh[i, k, ch]
        if raw + HALF < F0:
            continue
        for k in range(n_basis):
            yk, yx, yy, yz = _sh_basis_grad(k, dx, dy, dz)
            g_sh[i, k, ch] = yk * gcol
            c = sh[i, k, ch] * gcol
            gdx += yx * c
            gdy += yy * c
            gdz += yz * c
    dot = dx * gdx + dy * gdy + dz * gdz
    gmx = (gdx - dx * dot) / dn
    gmy = (gdy - dy * dot) / dn
    gmz = (gdz - dz * dot) / dn
    # ---- opacity
    op = F1 / (F1 + math.exp(-opacity_logits[i]))
    g_logits[i] = gr[5] * op * (F1 - op)
    # ---- covariance chain, recomputed
    qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
    qn = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), NORM_EPS)
    qw /= qn
    qx /= qn
    qy /= qn
    qz /= qn
    for j in range(3):
        s[j] = math.exp(log_scales[i, j])
    R[0, 0] = F1 - F2 * (qy * qy + qz * qz)
    R[0, 1] = F2 * (qx * qy - qw * qz)
    R[0, 2] = F2 * (qx * qz + qw * qy)
    R[1, 0] = F2 * (qx * qy + qw * qz)
    R[1, 1] = F1 - F2 * (qx * qx + qz * qz)
    R[1, 2] = F2 * (qy * qz - qw * qx)
    R[2, 0] = F2 * (qx * qz - qw * qy)
    R[2, 1] = F2 * (qy * qz + qw * qx)
    R[2, 2] = F1 - F2 * (qx * qx + qy * qy)
    xr = x / z
    yr = y / z
    tx = z * min(max(xr, x_lo), x_hi)
    ty = z * min(max(yr, y_lo), y_hi)
    x_free = x_lo <= xr <= x_hi
    y_free = y_lo <= yr <= y_hi
    iz = F1 / z
    iz2 = iz * iz
    j00 = fx * iz
    j02 = -fx * tx * iz2
    j11 = fy * iz
    j12 = -fy * ty * iz2
    for c in range(3):
        JW[0, c] = j00 * W[0, c] + j02 * W[2, c]
        JW[1, c] = j11 * W[1, c] + j12 * W[2, c]
    # Bm = J W M with M = R diag(s)
    for rr in range(2):
        for c in range(3):
            acc = F0
            for kk in range(3):
                acc += JW[rr, kk] * R[kk, c] * s[c]
            Bm[rr, c] = acc
    a = Bm[0, 0] * Bm[0, 0] + Bm[0, 1] * Bm[0, 1] + Bm[0, 2] * Bm[0, 2]
    b = Bm[0, 0] * Bm[1, 0] + Bm[0, 1] * Bm[1, 1] + Bm[0, 2] * Bm[1, 2]
    c2 = Bm[1, 0] * Bm[1, 0] + Bm[1, 1] * Bm[1, 1] + Bm[1, 2] * Bm[1, 2]
    # conic (A, B, C) = (c, -b, a) / det of the dilated covariance; eps2d folded in by the caller
    ad = a + eps2d
    cd = c2 + eps2d
    m01 = Bm[0, 0] * Bm[1, 1] - Bm[0, 1] * Bm[1, 0]
    m02 = Bm[0, 0] * Bm[1, 2] - Bm[0, 2] * Bm[1, 0]
    m12 = Bm[0, 1] * Bm[1, 2] - Bm[0, 2] * Bm[1, 1]
    det = m01 * m01 + m02 * m02 + m12 * m12 + eps2d * (a + c2) + eps2d * eps2d
    idet = F1 / det
    idet2 = idet * idet
    gA, gB, gC = gr[2], gr[3], gr[4]
    ga = -gA * cd * cd * idet2 + gB * b * cd * idet2 - gC * b * b * idet2
    gb = F2 * gA * b * cd * idet2 - gB * (idet + F2 * b * b * idet2) + F2 * gC * ad * b * idet2
    gc = -gA * b * b * idet2 + gB * ad * b * idet2 - gC * ad * ad * idet2
    # a = B0.B0, b = B0.B1, c = B1.B1
    for c in range(3):
        gBm[0, c] = F2 * ga * Bm[0, c] + gb * Bm[1, c]
        gBm[1, c] = gb * Bm[0, c] + F2 * gc * Bm[1, c]
    # Bm = JW @ M: gM = JW^T gBm, gJW = gBm M^T
    for kk in range(3):
        for c in range(3):
            gm = JW[0, kk] * gBm[0, c] + JW[1, kk] * gBm[1, c]
            gR[kk, c] = gm * s[c]
    for c in range(3):
        gs = F0
        for kk in range(3):
            gm = JW[0, kk] * gBm[0, c] + JW[1, kk] * gBm[1, c]
            gs += gm * R[kk, c]
        g_log_scales[i, c] = gs * s[c]
    for rr in range(2):
        for kk in range(3):
            acc = F0
            for c in range(3):
                acc += gBm[rr, c] * R[kk, c] * s[c]
            gJW[rr, kk] = acc
    # JW rows: j00 W0 + j02 W2, j11 W1 + j12 W2
    gj00 = gJW[0, 0] * W[0, 0] + gJW[0, 1] * W[0, 1] + gJW[0, 2] * W[0, 2]
    gj02 = gJW[0, 0] * W[2, 0] + gJW[0, 1] * W[2, 1] + gJW[0, 2] * W[2, 2]
    gj11 = gJW[1, 0] * W[1, 0] + gJW[1, 1] * W[1, 1] + gJW[1, 2] * W[1, 2]
    gj12 = gJW[1, 0] * W[2, 0] + gJW[1, 1] * W[2, 1] + gJW[1, 2] * W[2, 2]
    # camera-space point
    gx = gr[0] * fx * iz
    gy = gr[1] * fy * iz
    gz = -gr[0] * fx * x * iz2 - gr[1] * fy * y * iz2 + gr[9]
    gz += -gj00 * fx * iz2 - gj11 * fy * iz2
    # j02 = -fx tx / z^2 with tx = x (free) or z * limit (clamped)
    gtx = -gj02 * fx * iz2
    gz += gj02 * F2 * fx * tx * iz2 * iz
    if x_free:
        gx += gtx
    else:
        gz += gtx * (tx * iz)
    gty = -gj12 * fy * iz2
    gz += gj12 * F2 * fy * ty * iz2 * iz
    if y_free:
        gy += gty
    else:
        gz += gty * (ty * iz)
    g_means[i, 0] = gmx + W[0, 0] * gx + W[1, 0] * gy + W[2, 0] * gz
    g_means[i, 1] = gmy + W[0, 1] * gx + W[1, 1] * gy + W[2, 1] * gz
    g_means[i, 2] = gmz + W[0, 2] * gx + W[1, 2] * gy + W[2, 2] * gz
    # rotation matrix -> normalised quaternion -> raw quaternion
    gw = F2 * (-qz * gR[0, 1] + qy * gR[0, 2] + qz * gR[1, 0] - qx * gR[1, 2] - qy * gR[2, 0] + qx * gR[2, 1])
    gqx = F2 * (qy * gR[0, 1] + qz * gR[0, 2] + qy * gR[1, 0] - F2 * qx * gR[1, 1] - qw * gR[1, 2]
                + qz * gR[2, 0] + qw * gR[2, 1] - F2 * qx * gR[2, 2])
    gqy = F2 * (-F2 * qy * gR[0, 0] + qx * gR[0, 1] + qw * gR[0, 2] + qx * gR[1, 0] + qz * gR[1, 2]
                - qw * gR[2, 0] + qz * gR[2, 1] - F2 * qy * gR[2, 2])
    gqz = F2 * (-F2 * qz * gR[0, 0] - qw * gR[0, 1] + qx * gR[0, 2] + qw * gR[1, 0] - F2 * qz * gR[1, 1]
                + qy * gR[1, 2] + qx * gR[2, 0] + qy * gR[2, 1])
    dq = qw * gw + qx * gqx + qy * gqy + qz * gqz
    g_quats[i, 0] = (gw - qw * dq) / qn
    g_quats[i, 1] = (gqx - qx * dq) / qn
    g_quats[i, 2] = (gqy - qy * dq) / qn
    g_quats[i, 3] = (gqz - qz * dq) / qn
