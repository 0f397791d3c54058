"""Mean absolute colour difference (the photometric term of the paper's L_recon)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def l1_loss(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean ``|pred - target|`` over images ``(B, H, W, C)``; with ``mask (B, H, W, 1)``, over its weight."""
    diff = (pred - target).abs()
    if mask is None:
        return diff.mean()
    w = mask.expand_as(diff)
    return (diff * w).sum() / w.sum().clamp_min(1e-8)


class L1Loss(nn.Module):
    """Module form of :func:`l1_loss`."""

    def forward(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return l1_loss(pred, target, mask)
