"""Structural similarity (Wang et al. 2004) with an 11x11 Gaussian window, sigma 1.5."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

C1 = 0.01**2
C2 = 0.03**2


def _window(size: int, sigma: float, dtype, device) -> Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _blur(x: Tensor, g: Tensor) -> Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)`` with zero padding to the same size."""
    c = x.shape[1]
    k = len(g)
    x = F.conv2d(x, g.reshape(1, 1, 1, k).expand(c, 1, 1, k), padding=(0, k // 2), groups=c)
    return F.conv2d(x, g.reshape(1, 1, k, 1).expand(c, 1, k, 1), padding=(k // 2, 0), groups=c)


def ssim_map(pred: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-pixel SSIM ``(B, H, W, C)`` of images ``(B, H, W, C)`` with values in [0, 1]."""
    x = pred.permute(0, 3, 1, 2)
    y = target.permute(0, 3, 1, 2)
    g = _window(window, sigma, x.dtype, x.device)
    mx, my = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mx * mx
    syy = _blur(y * y, g) - my * my
    sxy = _blur(x * y, g) - mx * my
    s = ((2 * mx * my + C1) * (2 * sxy + C2)) / ((mx * mx + my * my + C1) * (sxx + syy + C2))
    return s.permute(0, 2, 3, 1)


def ssim(pred: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Mean SSIM (a scalar; 1 for identical images)."""
    return ssim_map(pred, target, window, sigma).mean()


def ssim_loss(pred: Tensor, target: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """``1 - SSIM``: the paper's L_ssim."""
    return 1.0 - ssim(pred, target, window, sigma)


class SSIMLoss(nn.Module):
    """Module form of :func:`ssim_loss`."""

    def __init__(self, window: int = 11, sigma: float = 1.5):
        super().__init__()
        self.window, self.sigma = window, sigma

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return ssim_loss(pred, target, self.window, self.sigma)
