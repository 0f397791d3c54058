"""Metrics and reports for trained avatars."""

from .evaluate import EvalConfig, evaluate, mesh_silhouette, write_report
from .identity import identity_distance
from .metrics import coverage, l1, psnr, ssim_value

__all__ = ["EvalConfig", "coverage", "evaluate", "identity_distance", "l1", "mesh_silhouette", "psnr", "ssim_value", "write_report"]
