"""The Gaussians every renderer draws, and what a render returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

SH_C0 = 0.28209479177387814  # degree-0 spherical-harmonic basis constant


@dataclass
class Gaussians:
    """A set of ``N`` 3D Gaussians in world coordinates (raw, un-activated).

    Attributes:
        means: ``(N, 3)`` centres in metres.
        quats: ``(N, 4)`` rotations as quaternions ``(w, x, y, z)``, not necessarily unit.
        log_scales: ``(N, 3)`` natural log of the standard deviations along the local axes.
        opacity_logits: ``(N,)`` pre-sigmoid opacities.
        sh: ``(N, K, 3)`` spherical-harmonic colour coefficients, ``K = (degree + 1) ** 2``;
            colour = ``SH_C0 * sh[:, 0] + 0.5`` for degree 0 (the 3DGS convention).

    Activations happen only in the properties below.
    """

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logits: Tensor
    sh: Tensor

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def scales(self) -> Tensor:
        """``(N, 3)`` standard deviations."""
        return torch.exp(self.log_scales)

    @property
    def opacities(self) -> Tensor:
        """``(N,)`` opacities in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def unit_quats(self) -> Tensor:
        """``(N, 4)`` normalised quaternions (w, x, y, z)."""
        return F.normalize(self.quats, dim=-1)

    @property
    def sh_degree(self) -> int:
        return int(round(self.sh.shape[1] ** 0.5)) - 1

    @staticmethod
    def rgb_to_sh0(rgb: Tensor) -> Tensor:
        """Degree-0 coefficients ``(N, 1, 3)`` that reproduce colours ``rgb`` ``(N, 3)`` in [0, 1]."""
        return ((rgb - 0.5) / SH_C0).unsqueeze(1)

    def detach(self) -> "Gaussians":
        return Gaussians(*(t.detach() for t in self.tensors()))

    def tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        return (self.means, self.quats, self.log_scales, self.opacity_logits, self.sh)

    def to(self, device) -> "Gaussians":
        return Gaussians(*(t.to(device) for t in self.tensors()))

    @staticmethod
    def cat(parts: list["Gaussians"]) -> "Gaussians":
        return Gaussians(*(torch.cat(ts, dim=0) for ts in zip(*(p.tensors() for p in parts))))


@dataclass
class RenderOutput:
    """Images for a batch of ``B`` cameras of size ``H x W``.

    Attributes:
        color: ``(B, H, W, 3)`` composited colour over the background.
        alpha: ``(B, H, W, 1)`` accumulated opacity.
        depth: ``(B, H, W, 1)`` alpha-weighted camera-space depth (0 where empty).
    """

    color: Tensor
    alpha: Tensor
    depth: Tensor
