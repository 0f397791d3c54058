"""Texture for hair the portrait does not show: the fine detail of the hair it does show.

The back and sides of the head are filled with a smooth colour diffused from
the visible hair; on its own that reads as a helmet.  :func:`hair_detail` cuts
the best-seen patch of hair out of the portrait and keeps only its fine
structure (luminance minus its blur); the animator lays it on the head
surface tri-planarly, so it moves with the head like real hair.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["hair_detail"]


def hair_detail(portrait: np.ndarray, mask: np.ndarray, hair_uv: np.ndarray, strength: float = 1.0,
                sigma_px: float = 3.0, limit: float = 0.12) -> np.ndarray:
    """A zero-mean detail patch ``(h, w) float32`` (luminance offsets), or ``(2, 2)`` zeros.

    Args:
        portrait: ``(S, S, 3) float32`` in [0, 1].
        mask: ``(S, S)`` person mask.
        hair_uv: ``(N, 2)`` portrait pixels of well-seen hair (scalp vertices facing the camera).
        strength: scale of the offsets (0 gives zeros).
        sigma_px: what is finer than this blur counts as detail.
        limit: offsets are clipped to +-limit.
    """
    empty = np.zeros((2, 2), np.float32)
    if strength <= 0 or len(hair_uv) < 8:
        return empty
    lo = np.percentile(hair_uv, 25, axis=0)
    hi = np.percentile(hair_uv, 75, axis=0)
    x0, y0 = np.floor(lo).astype(int)
    x1, y1 = np.ceil(hi).astype(int)
    S = portrait.shape[0]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, S), min(y1, S)
    if x1 - x0 < 8 or y1 - y0 < 8 or mask[y0:y1, x0:x1].mean() < 0.8:
        return empty
    lum = portrait[..., :3].mean(-1).astype(np.float32)
    high = lum - cv2.GaussianBlur(lum, (0, 0), sigma_px)
    patch = high[y0:y1, x0:x1]
    patch = np.clip(patch - patch.mean(), -limit, limit) * strength
    return np.ascontiguousarray(patch, dtype=np.float32)
