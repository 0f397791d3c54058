"""Image metrics on ``(H, W, 3)`` or ``(B, H, W, 3)`` images in [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vasa3d.train.losses.ssim import ssim


def psnr(pred: Tensor, target: Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (inf when identical)."""
    mse = float(((pred.clamp(0, 1) - target) ** 2).mean())
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def l1(pred: Tensor, target: Tensor) -> float:
    """Mean absolute difference."""
    return float((pred.clamp(0, 1) - target).abs().mean())


def ssim_value(pred: Tensor, target: Tensor) -> float:
    """Mean SSIM (11x11 Gaussian window, sigma 1.5)."""
    p, t = pred.clamp(0, 1), target
    if p.dim() == 3:
        p, t = p[None], t[None]
    return float(ssim(p, t))


def coverage(alpha: Tensor, silhouette: Tensor, threshold: float = 0.98) -> float:
    """Share of the ``silhouette`` pixels (bool ``(H, W)``) whose ``alpha`` ``(H, W)`` is at least ``threshold``."""
    inside = silhouette.bool()
    if int(inside.sum()) == 0:
        return float("nan")
    return float((alpha[inside] >= threshold).float().mean())
