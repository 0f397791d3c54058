"""Gaussians bound to mesh triangles (GaussianAvatars' rigging, as a small layer).

Each Gaussian stores its position, rotation and scale in the local frame of
one parent triangle. A triangle's frame is its centroid ``c_f``, a rotation
``R_f`` whose columns are the first edge direction, the in-plane
perpendicular and the normal, and an isotropic size ``s_f`` (mean edge
length). Deforming the mesh moves the frames and so the Gaussians:

    mean_world  = R_f (mean_local * s_f) + c_f
    rot_world   = R_f * rot_local
    scale_world = scale_local * s_f
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vasa3d.render.types import Gaussians

from .rotation import matrix_to_quat, quat_multiply


@dataclass
class TriangleFrames:
    """Local frames of ``F`` triangles (optionally for a batch of ``B`` meshes).

    Attributes:
        rotation: ``(..., F, 3, 3)``; columns are the frame's x (first edge), y, z (normal).
        centre: ``(..., F, 3)`` triangle centroids.
        size: ``(..., F)`` mean edge length in metres.
    """

    rotation: Tensor
    centre: Tensor
    size: Tensor

    @property
    def quat(self) -> Tensor:
        """``(..., F, 4)`` the frame rotations as unit quaternions (w, x, y, z)."""
        return matrix_to_quat(self.rotation)


def triangle_frames(vertices: Tensor, faces: Tensor) -> TriangleFrames:
    """Frames of every triangle of a mesh.

    Args:
        vertices: ``(..., V, 3)`` vertex positions.
        faces: ``(F, 3)`` long vertex indices.

    Returns:
        :class:`TriangleFrames` with leading shape ``(..., F)``.
    """
    v0 = vertices[..., faces[:, 0], :]
    v1 = vertices[..., faces[:, 1], :]
    v2 = vertices[..., faces[:, 2], :]
    e0, e1, e2 = v1 - v0, v2 - v1, v0 - v2
    x = F.normalize(e0, dim=-1, eps=1e-12)
    n = F.normalize(torch.linalg.cross(e0, -e2, dim=-1), dim=-1, eps=1e-12)
    y = torch.linalg.cross(n, x, dim=-1)
    rotation = torch.stack([x, y, n], dim=-1)
    centre = (v0 + v1 + v2) / 3.0
    size = (e0.norm(dim=-1) + e1.norm(dim=-1) + e2.norm(dim=-1)) / 3.0
    return TriangleFrames(rotation, centre, size)


def bind(
    frames: TriangleFrames,
    parent: Tensor,
    means: Tensor,
    quats: Tensor,
    log_scales: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Local Gaussian geometry to world geometry through the parent triangles' frames.

    Leading batch axes broadcast: frames of ``B`` meshes (leading shape
    ``(B, F)``) with local tensors ``(N, k)`` or ``(B, N, k)`` give ``(B, N, k)``.

    Args:
        frames: frames of one mesh (leading shape ``(F,)``) or of ``B`` meshes (``(B, F)``).
        parent: ``(N,)`` long index of each Gaussian's triangle.
        means: ``([B,] N, 3)`` local positions (in units of the triangle size).
        quats: ``([B,] N, 4)`` local rotations (w, x, y, z), any norm.
        log_scales: ``([B,] N, 3)`` local log scales (in units of the triangle size).

    Returns:
        world means ``([B,] N, 3)``, world quaternions ``([B,] N, 4)`` (unit), world log
        scales ``([B,] N, 3)``.
    """
    R = frames.rotation[..., parent, :, :]
    s = frames.size[..., parent, None]
    c = frames.centre[..., parent, :]
    world_means = torch.einsum("...ij,...j->...i", R, means * s) + c
    world_quats = quat_multiply(frames.quat[..., parent, :], F.normalize(quats, dim=-1))
    world_log_scales = log_scales + torch.log(s)
    return world_means, world_quats, world_log_scales


def unbind(frames: TriangleFrames, parent: Tensor, world_means: Tensor) -> Tensor:
    """Inverse of :func:`bind` for positions: world ``(N, 3)`` -> local ``(N, 3)``."""
    R = frames.rotation[..., parent, :, :]
    s = frames.size[..., parent]
    c = frames.centre[..., parent, :]
    return torch.einsum("...ji,...j->...i", R, world_means - c) / s[..., None]


def bound_gaussians(
    frames: TriangleFrames,
    parent: Tensor,
    means: Tensor,
    quats: Tensor,
    log_scales: Tensor,
    opacity_logits: Tensor,
    sh: Tensor,
) -> Gaussians:
    """:func:`bind` plus the appearance tensors, as a renderable :class:`Gaussians`."""
    m, q, s = bind(frames, parent, means, quats, log_scales)
    return Gaussians(m, q, s, opacity_logits, sh)
