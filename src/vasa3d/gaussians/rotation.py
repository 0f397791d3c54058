"""Quaternion helpers (w, x, y, z) for composing Gaussian rotations with triangle frames."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vasa3d.render.projection import quat_to_rotmat as quat_to_matrix  # one implementation, shared with the renderer


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)`` (w, x, y, z); broadcasts."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def matrix_to_quat(R: Tensor) -> Tensor:
    """Unit quaternions ``(..., 4)`` (w >= 0) from rotation matrices ``(..., 3, 3)``.

    Uses the branch on the largest diagonal term so that it is stable for
    every rotation, and differentiable almost everywhere.
    """
    m = R.reshape(-1, 3, 3)
    m00, m11, m22 = m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]
    # 4*q_i^2 for each of the four components; pick the largest as pivot.
    sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    pivot = sq.argmax(dim=-1)
    r = torch.sqrt(torch.clamp_min(sq.gather(1, pivot[:, None])[:, 0], 1e-12))  # 2 |q_pivot|
    d21, d02, d10 = m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]
    s21, s02, s10 = m[:, 2, 1] + m[:, 1, 2], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 0] + m[:, 0, 1]
    cands = torch.stack(
        [
            torch.stack([r, d21 / r, d02 / r, d10 / r], -1),
            torch.stack([d21 / r, r, s10 / r, s02 / r], -1),
            torch.stack([d02 / r, s10 / r, r, s21 / r], -1),
            torch.stack([d10 / r, s02 / r, s21 / r, r], -1),
        ],
        dim=1,
    ) * 0.5
    q = cands.gather(1, pivot[:, None, None].expand(-1, 1, 4))[:, 0]
    q = torch.where(q[:, :1] < 0, -q, q)
    return F.normalize(q, dim=-1).reshape(R.shape[:-2] + (4,))


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """Rodrigues: rotation matrices ``(..., 3, 3)`` from axis-angle vectors ``(..., 3)``."""
    theta = torch.sqrt((aa * aa).sum(-1, keepdim=True) + 1e-16)
    k = aa / theta
    kx, ky, kz = k.unbind(-1)
    zero = torch.zeros_like(kx)
    K = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    s, c = torch.sin(theta)[..., None], torch.cos(theta)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    return eye + s * K + (1 - c) * (K @ K)
