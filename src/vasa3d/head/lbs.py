"""Rotations and linear blend skinning (plain torch, batched, differentiable)."""

from __future__ import annotations

import torch
from torch import Tensor


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """Rodrigues: axis-angle ``(..., 3)`` to rotation matrices ``(..., 3, 3)``.

    Smooth at zero (uses the series of sin/cos so gradients stay finite).
    """
    theta2 = (aa * aa).sum(-1, keepdim=True).unsqueeze(-1)  # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-16)
    small = theta2 < 1e-8
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / (theta2 + 1e-16))
    x, y, z = aa.unbind(-1)
    o = torch.zeros_like(x)
    K = torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def matrix_to_axis_angle(R: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` to axis-angle ``(..., 3)`` (angles < pi)."""
    cos = ((R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2] - 1) / 2).clamp(-1 + 1e-7, 1 - 1e-7)
    theta = torch.acos(cos)
    v = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    scale = torch.where(theta < 1e-4, 0.5 + theta**2 / 12, theta / (2 * torch.sin(theta)))
    return v * scale.unsqueeze(-1)


def joint_transforms(rot: Tensor, joints: Tensor, parents: list[int]) -> Tensor:
    """World transforms of a kinematic chain.

    Args:
        rot: ``(B, J, 3, 3)`` local rotations, each about its joint's rest position.
        joints: ``(B, J, 3)`` rest positions of the joints.
        parents: parent index of each joint (-1 for the root), parents before children.

    Returns:
        ``(B, J, 3, 4)`` affine maps taking rest-pose points to posed points.
    """
    out: list[Tensor] = []
    for k, p in enumerate(parents):
        R = rot[:, k]
        t = joints[:, k] - (R @ joints[:, k, :, None])[..., 0]
        if p < 0:
            out.append(torch.cat([R, t[..., None]], -1))
        else:
            Rp, tp = out[p][..., :3], out[p][..., 3]
            out.append(torch.cat([Rp @ R, (Rp @ t[..., None])[..., 0][..., None] + tp[..., None]], -1))
    return torch.stack(out, 1)


def skin(vertices: Tensor, weights: Tensor, transforms: Tensor) -> Tensor:
    """Linear blend skinning.

    Args:
        vertices: ``(B, V, 3)`` rest-pose vertices.
        weights: ``(V, J)`` skinning weights (rows sum to 1).
        transforms: ``(B, J, 3, 4)`` from :func:`joint_transforms`.

    Returns:
        ``(B, V, 3)`` posed vertices.
    """
    B, J = transforms.shape[:2]
    T = (weights @ transforms.reshape(B, J, 12)).reshape(B, -1, 3, 4)  # (B, V, 3, 4)
    return (T[..., :3] * vertices[..., None, :]).sum(-1) + T[..., 3]
