"""The inside of an open mouth: dark cavity, upper and lower teeth, tongue.

The portrait usually shows a closed mouth, so the animator has no texture for
what the jaw reveals.  This draws it procedurally in a frame attached to the
projected inner-lip contour: ``s`` runs from the right mouth corner (0) to
the left one (1), ``t`` is the distance below the corner line.  Upper teeth
hang under the upper lip, lower teeth stand on the lower lip, the tongue lies
behind the lower teeth, and everything darkens toward the throat.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["MouthStyle", "draw_mouth"]


@dataclass
class MouthStyle:
    """Colours (linear RGB in [0, 1]) and proportions of the inner mouth."""

    cavity: tuple[float, float, float] = (0.16, 0.05, 0.05)
    throat: tuple[float, float, float] = (0.05, 0.01, 0.01)
    teeth: tuple[float, float, float] = (0.93, 0.91, 0.85)
    tongue: tuple[float, float, float] = (0.62, 0.30, 0.30)
    upper_teeth: float = 0.11
    """visible height of the upper teeth, as a fraction of the mouth width"""
    lower_teeth: float = 0.07
    """visible height of the lower teeth, as a fraction of the mouth width"""


def _curve(points_st: np.ndarray, s: np.ndarray) -> np.ndarray:
    order = np.argsort(points_st[:, 0])
    return np.interp(s, points_st[order, 0], points_st[order, 1])


def draw_mouth(rgb: np.ndarray, upper: np.ndarray, lower: np.ndarray, allowed: np.ndarray,
               style: MouthStyle | None = None) -> np.ndarray:
    """Paint the inner mouth into ``rgb`` ``(H, W, 3) float32`` in place.

    Args:
        upper: ``(n, 2)`` projected inner edge of the upper lip, right corner to left corner (pixels).
        lower: ``(n, 2)`` inner edge of the lower lip, same order, sharing both corners.
        allowed: ``(H, W) bool`` pixels where the mouth may show (not covered by the lips or other skin).

    Returns:
        ``(H, W) bool`` the pixels painted.
    """
    st = style or MouthStyle()
    H, W = allowed.shape
    painted = np.zeros((H, W), bool)
    poly = np.concatenate([upper, lower[::-1]]).astype(np.float64)
    if not np.isfinite(poly).all():
        return painted
    x0, y0 = np.floor(poly.min(0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return painted
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    # pixel centres at +0.5: shift the polygon so that cv2's integer grid matches them (8x subpixel precision)
    pts = np.round((poly - [x0 + 0.5, y0 + 0.5]) * 8).astype(np.int32)
    cv2.fillPoly(inside, [pts], 1, lineType=cv2.LINE_8, shift=3)
    region = inside.astype(bool) & allowed[y0:y1, x0:x1]
    if not region.any():
        return painted

    c_r, c_l = poly[0], upper[-1].astype(np.float64)
    width = float(np.linalg.norm(c_l - c_r))
    if width < 1e-3:
        return painted
    e = (c_l - c_r) / width
    n = np.array([-e[1], e[0]])  # screen-down when e points screen-right

    def to_st(p):
        d = p - c_r
        return np.stack([d @ e / width, d @ n], -1)

    up_st, lo_st = to_st(upper.astype(np.float64)), to_st(lower.astype(np.float64))
    rows, cols = np.nonzero(region)
    p = np.stack([cols + x0 + 0.5, rows + y0 + 0.5], -1)
    s, t = to_st(p).T
    tu, tl = _curve(up_st, s), _curve(lo_st, s)
    gap = np.maximum(tl - tu, 1e-3)
    taper = np.sqrt(np.clip(1 - (2 * s - 1) ** 2, 0, 1))  # teeth recede toward the corners
    depth = np.clip((t - tu) / gap, 0, 1)

    cavity = np.asarray(st.cavity, np.float32)
    throat = np.asarray(st.throat, np.float32)
    centre = np.clip(1 - np.abs(2 * s - 1), 0, 1)[:, None] * np.clip(1 - np.abs(2 * depth - 1), 0, 1)[:, None]
    color = cavity * (1 - centre) + throat * centre

    tongue = ((s - 0.5) / 0.36) ** 2 + ((t - tl) / (0.5 * gap)) ** 2 < 1.0
    tongue_shade = np.clip(0.75 + 0.35 * (t - tl + 0.5 * gap) / (0.5 * gap), 0.6, 1.05)[:, None]
    color = np.where(tongue[:, None], np.asarray(st.tongue, np.float32) * tongue_shade, color)

    teeth = np.asarray(st.teeth, np.float32)
    hu = np.minimum(0.55 * gap, st.upper_teeth * width) * taper
    hl = np.minimum(0.35 * gap, st.lower_teeth * width) * taper
    # separations between teeth: darker lines every ~9% of the mouth width, biggest at the midline
    tooth_pos = (s - 0.5) / 0.09
    seam = np.exp(-(((tooth_pos - np.round(tooth_pos)) * 0.09 * width) ** 2) / (2 * max(0.6, 0.006 * width) ** 2))
    upper_t = (t - tu) <= hu
    lower_t = (tl - t) <= hl
    shade_u = (0.78 + 0.22 * np.clip((t - tu) / np.maximum(hu, 1e-3) * 2, 0, 1)) * (0.75 + 0.25 * taper)
    shade_l = (0.70 + 0.20 * np.clip((tl - t) / np.maximum(hl, 1e-3) * 2, 0, 1)) * (0.7 + 0.3 * taper)
    color = np.where(lower_t[:, None], teeth * (shade_l * (1 - 0.35 * seam))[:, None], color)
    color = np.where(upper_t[:, None], teeth * (shade_u * (1 - 0.35 * seam))[:, None], color)
    rgb[rows + y0, cols + x0] = np.clip(color, 0, 1)
    painted[rows + y0, cols + x0] = True
    return painted
