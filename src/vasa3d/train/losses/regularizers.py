"""GaussianAvatars' regularisers that keep bound Gaussians near and small relative to their triangle."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def position_loss(local_means: Tensor, threshold: float = 1.0) -> Tensor:
    """Mean of ``relu(||mean_local|| - threshold)`` over ``(N, 3)`` local positions (triangle-size units)."""
    return torch.relu(local_means.norm(dim=-1) - threshold).mean()


def scale_loss(local_log_scales: Tensor, threshold: float = 0.6) -> Tensor:
    """Mean of ``relu(scale_local - threshold)`` over ``(N, 3)`` local log scales (triangle-size units)."""
    return torch.relu(torch.exp(local_log_scales) - threshold).mean()


class PositionLoss(nn.Module):
    """Module form of :func:`position_loss`."""

    def __init__(self, threshold: float = 1.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, local_means: Tensor) -> Tensor:
        return position_loss(local_means, self.threshold)


class ScaleLoss(nn.Module):
    """Module form of :func:`scale_loss`."""

    def __init__(self, threshold: float = 0.6):
        super().__init__()
        self.threshold = threshold

    def forward(self, local_log_scales: Tensor) -> Tensor:
        return scale_loss(local_log_scales, self.threshold)
