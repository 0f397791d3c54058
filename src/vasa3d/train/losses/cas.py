"""Contrast-adaptive sharpening (AMD FidelityFX CAS) and the paper's sharpening loss L_cas."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cas_filter(images: Tensor, sharpness: float = 0.5) -> Tensor:
    """Sharpen ``(B, H, W, C)`` images in [0, 1].

    Per pixel, the cross-shaped neighbourhood's minimum and maximum set an
    amount ``sqrt(min(mn, 1 - mx) / mx)`` (less sharpening where contrast is
    already high); the pixel becomes ``(c + w * (n + s + e + w)) / (1 + 4 w)``
    with a negative lobe ``w = -amount / lerp(8, 5, sharpness)``.
    """
    x = images.permute(0, 3, 1, 2)
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    c = p[..., 1:-1, 1:-1]
    n, s = p[..., :-2, 1:-1], p[..., 2:, 1:-1]
    w_, e = p[..., 1:-1, :-2], p[..., 1:-1, 2:]
    mn = torch.minimum(torch.minimum(torch.minimum(n, s), torch.minimum(w_, e)), c)
    mx = torch.maximum(torch.maximum(torch.maximum(n, s), torch.maximum(w_, e)), c)
    amount = torch.sqrt(torch.clamp(torch.minimum(mn, 1 - mx) / mx.clamp_min(1e-5), 0, 1))
    lobe = -amount / (8.0 - 3.0 * sharpness)
    out = (c + lobe * (n + s + w_ + e)) / (1 + 4 * lobe)
    return out.clamp(0, 1).permute(0, 2, 3, 1)


def cas_loss(perceptual: nn.Module, render: Tensor, sharpness: float = 0.5) -> Tensor:
    """``perceptual(render, stopgrad(CAS(render)))``: pulls the render toward its sharpened self."""
    return perceptual(render, cas_filter(render.detach(), sharpness)).mean()


class CASLoss(nn.Module):
    """Module form of :func:`cas_loss` around a perceptual network."""

    def __init__(self, perceptual: nn.Module, sharpness: float = 0.5):
        super().__init__()
        self.perceptual, self.sharpness = perceptual, sharpness

    def forward(self, render: Tensor) -> Tensor:
        return cas_loss(self.perceptual, render, self.sharpness)
