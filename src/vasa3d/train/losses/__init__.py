"""Training losses, one file each: a function and a thin module (kornia style)."""

from .l1 import L1Loss, l1_loss
from .regularizers import PositionLoss, ScaleLoss, position_loss, scale_loss
from .ssim import SSIMLoss, ssim, ssim_loss, ssim_map

__all__ = [
    "L1Loss", "l1_loss", "PositionLoss", "ScaleLoss", "position_loss", "scale_loss",
    "SSIMLoss", "ssim", "ssim_loss", "ssim_map",
]
