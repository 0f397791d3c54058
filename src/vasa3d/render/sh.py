"""Real spherical harmonics up to degree 3, evaluated in a view direction.

The basis and its sign convention are the ones every 3D Gaussian Splatting
file uses (f_dc / f_rest in PLY files), so colours survive a round trip
through other splat viewers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .types import SH_C0

SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def eval_sh(sh: Tensor, dirs: Tensor, degree: int) -> Tensor:
    """Colours ``(N, 3)`` from coefficients ``sh`` ``(N, K, 3)`` in unit directions ``dirs`` ``(N, 3)``.

    Only the first ``(degree + 1) ** 2`` coefficients are used; the result is
    ``sum_k Y_k(dir) * sh[:, k] + 0.5`` clamped at 0 from below (the 3DGS
    convention), differentiable with respect to ``sh`` and ``dirs``.
    """
    out = SH_C0 * sh[:, 0]
    if degree >= 1:
        x, y, z = (dirs[:, i : i + 1] for i in range(3))
        out = out - SH_C1 * y * sh[:, 1] + SH_C1 * z * sh[:, 2] - SH_C1 * x * sh[:, 3]
        if degree >= 2:
            xx, yy, zz = x * x, y * y, z * z
            xy, yz, xz = x * y, y * z, x * z
            out = (
                out
                + SH_C2[0] * xy * sh[:, 4]
                + SH_C2[1] * yz * sh[:, 5]
                + SH_C2[2] * (2.0 * zz - xx - yy) * sh[:, 6]
                + SH_C2[3] * xz * sh[:, 7]
                + SH_C2[4] * (xx - yy) * sh[:, 8]
            )
            if degree >= 3:
                out = (
                    out
                    + SH_C3[0] * y * (3.0 * xx - yy) * sh[:, 9]
                    + SH_C3[1] * xy * z * sh[:, 10]
                    + SH_C3[2] * y * (4.0 * zz - xx - yy) * sh[:, 11]
                    + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh[:, 12]
                    + SH_C3[4] * x * (4.0 * zz - xx - yy) * sh[:, 13]
                    + SH_C3[5] * z * (xx - yy) * sh[:, 14]
                    + SH_C3[6] * x * (xx - 3.0 * yy) * sh[:, 15]
                )
    return torch.clamp_min(out + 0.5, 0.0)
