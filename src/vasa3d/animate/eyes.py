"""Eyes that follow gaze: sclera plus the portrait's iris moved to where the eyeball points.

Inside the projected eye opening (the eyelid contour of the current frame,
which closes on a blink because the lids move) the animator paints the white
of the eye and, at the projected iris centre, the portrait's own iris.  Iris
pixels that the portrait's lids covered are replaced by the iris's mean
colour, so a raised gaze never shows eyelid skin inside the eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vasa3d.animate.raster import sample_bilinear

__all__ = ["EyeAppearance", "eye_appearance", "draw_eye", "polygon_mask"]


def polygon_mask(poly: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(H, W) bool``: pixel centres inside ``poly`` ``(n, 2)`` (pixels, centres at +0.5)."""
    out = np.zeros((height, width), np.uint8)
    if np.isfinite(poly).all():
        pts = np.round((np.asarray(poly, np.float64) - 0.5) * 8).astype(np.int32)
        cv2.fillPoly(out, [pts], 1, lineType=cv2.LINE_8, shift=3)
    return out.astype(bool)


@dataclass
class EyeAppearance:
    """What one eye looks like in the portrait (pixels of the crop)."""

    iris_centre: np.ndarray  # (2,)
    iris_radius: float
    iris_colour: np.ndarray  # (3,)
    sclera_colour: np.ndarray  # (3,)
    opening: np.ndarray  # (S, S) bool, the portrait's eye opening


def eye_appearance(image: np.ndarray, contour: np.ndarray, iris: np.ndarray) -> EyeAppearance:
    """Measure one eye: ``contour (16, 2)`` eyelid contour, ``iris (5, 2)`` centre then 4 rim points."""
    img = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image
    S0, S1 = img.shape[:2]
    opening = polygon_mask(contour, S0, S1)
    centre = iris[0].astype(np.float64)
    radius = float(np.mean(np.linalg.norm(iris[1:] - centre, axis=1)))
    radius = max(radius, 0.08 * float(np.ptp(contour[:, 0])))
    yy, xx = np.mgrid[0:S0, 0:S1]
    d = np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1])
    in_iris = opening & (d < radius)
    sclera = opening & (d > radius * 1.15)
    iris_col = img[in_iris].mean(0) if in_iris.sum() > 3 else np.array([0.25, 0.18, 0.12])
    if sclera.sum() > 3:
        px = img[sclera]
        lum = px.mean(1)
        sclera_col = px[lum >= np.median(lum)].mean(0)
    else:
        sclera_col = np.array([0.85, 0.82, 0.80])
    # a white that is too dark (shadowed eyes) still reads as white, not grey skin
    sclera_col = np.clip(np.maximum(sclera_col, 0.55 * np.array([1.0, 0.97, 0.95])), 0, 1)
    return EyeAppearance(centre, radius, iris_col.astype(np.float32), sclera_col.astype(np.float32), opening)


def draw_eye(rgb: np.ndarray, contour: np.ndarray, iris_centre: np.ndarray, scale: float,
             eye: EyeAppearance, portrait: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Paint one eye into ``rgb (H, W, 3) float32`` in place.

    Args:
        contour: ``(16, 2)`` this frame's projected eyelid contour.
        iris_centre: ``(2,)`` this frame's projected iris centre.
        scale: this frame's pixels per portrait pixel around the eye.
        eye: the portrait's :class:`EyeAppearance`.
        portrait: ``(S, S, 3) float32`` portrait crop.
        allowed: ``(H, W) bool`` pixels not covered by skin in front of the eye.

    Returns:
        ``(H, W) bool`` the painted pixels.
    """
    H, W = allowed.shape
    painted = np.zeros((H, W), bool)
    if not np.isfinite(contour).all():
        return painted
    x0, y0 = np.maximum(np.floor(contour.min(0)).astype(int) - 1, 0)
    x1, y1 = np.ceil(contour.max(0)).astype(int) + 2
    x1, y1 = min(x1, W), min(y1, H)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return painted
    local = polygon_mask(contour - [x0, y0], y1 - y0, x1 - x0) & allowed[y0:y1, x0:x1]
    if not local.any():
        return painted
    rows, cols = np.nonzero(local)
    px = np.stack([cols + x0 + 0.5, rows + y0 + 0.5], -1)
    # shade the white toward the lids (the lids shadow the eyeball)
    rim = cv2.distanceTransform(local.astype(np.uint8), cv2.DIST_L2, 3)[rows, cols]
    opening_h = max(1.0, float(np.ptp(contour[:, 1])))
    shade = 0.72 + 0.28 * np.clip(rim / (0.25 * opening_h), 0, 1)
    color = eye.sclera_colour[None] * shade[:, None]
    radius = eye.iris_radius * scale
    d = np.linalg.norm(px - iris_centre, axis=1)
    iris = d < radius + 1.0
    if iris.any():
        src = (px[iris] - iris_centre) / scale + eye.iris_centre
        tex = sample_bilinear(portrait, src[None].astype(np.float32))[0]
        known = sample_bilinear(eye.opening.astype(np.float32), src[None].astype(np.float32))[0]
        tex = tex * known[:, None] + eye.iris_colour[None] * (1 - known[:, None])
        a = np.clip(radius + 0.5 - d[iris], 0, 1)[:, None]  # antialiased rim
        color[iris] = color[iris] * (1 - a) + tex * a * shade[iris, None]
    rgb[rows + y0, cols + x0] = np.clip(color, 0, 1)
    painted[rows + y0, cols + x0] = True
    return painted
