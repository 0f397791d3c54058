"""The 2D layers behind the re-rendered head: background and body (hair, neck, shoulders).

Computed once per portrait:

* ``background``: the portrait with the person removed (inpainted), shown
  where the head moved away.
* ``body``: the person outside the head mesh (long hair, neck, shoulders,
  clothes) with an alpha; under the head's old silhouette its colour is
  inpainted from the surrounding hair and neck, so that what a turning head
  uncovers inside its old outline continues them. A head that carries its hair
  (the built-in head's hair shell) is the outermost thing above its neck: there
  the body continues only behind the neck, and a turn uncovers background.

Per frame, the body layer moves with a smooth displacement field spread from
the head mesh's vertices (:func:`body_flow`): hair next to the head follows the
head, shoulders far below stay.
"""

from __future__ import annotations

import cv2
import numpy as np
from numba import njit
from scipy import ndimage

__all__ = ["PortraitLayers", "make_layers", "body_flow"]


class PortraitLayers:
    """``background (S,S,3)``, ``body (S,S,3)`` float32 in [0,1] and ``body_alpha (S,S)`` float32."""

    __slots__ = ("background", "body", "body_alpha")

    def __init__(self, background: np.ndarray, body: np.ndarray, body_alpha: np.ndarray) -> None:
        self.background, self.body, self.body_alpha = background, body, body_alpha


def _inpaint(image: np.ndarray, hole: np.ndarray, scale: int = 4, radius: int = 5) -> np.ndarray:
    """Fill ``hole`` ``(S,S) bool`` of ``image`` ``(S,S,3) float32`` (Telea at 1/``scale`` size, then upsampled)."""
    if not hole.any():
        return image.copy()
    S0, S1 = image.shape[:2]
    small = cv2.resize((image * 255).astype(np.uint8), (max(8, S1 // scale), max(8, S0 // scale)),
                       interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, radius, cv2.INPAINT_TELEA)
    big = cv2.resize(filled, (S1, S0), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    big = ndimage.gaussian_filter(big, sigma=(scale * 0.7, scale * 0.7, 0))
    out = image.copy()
    out[hole] = big[hole]
    return out


def make_layers(image: np.ndarray, mask: np.ndarray, head_cover: np.ndarray,
                behind_head: np.ndarray | None = None) -> PortraitLayers:
    """Background and body layers of a portrait.

    Args:
        image: ``(S, S, 3)`` uint8 portrait crop.
        mask: ``(S, S)`` float32 person foreground in [0, 1].
        head_cover: ``(S, S)`` bool, the fitted head mesh's silhouette in the crop.
        behind_head: ``(S, S)`` float32 in [0, 1] or None: how much of the body lies behind the head
            where ``head_cover`` is (the neck's silhouette, for a head mesh that carries the hair); None
            when the hair reaches beyond the mesh, so the body continues under all of the head. With it, the
            person's pixels just outside the head above its lowest row (within 2.5% of the image size: the
            hair's edge) and small pieces of the person near the head (under 0.5% of the image) belong to
            the head and are left out of the body, except behind the neck.
    """
    img = image.astype(np.float32) / 255.0
    person = (mask > 0.3) | head_cover
    person = ndimage.binary_dilation(person, iterations=max(2, image.shape[0] // 128))
    background = _inpaint(img, person)
    # under the head the body layer continues the hair and neck around it (inpainted from them), so
    # what a turning head uncovers inside its old outline is hair or neck, never a hole
    # fed only by the person's own pixels: filled from the background too (as it was), it showed pale wedges
    # of background under the jaw and beside the temples wherever a turning head uncovered them
    filled = _inpaint(img, head_cover | (mask < 0.5))
    under = head_cover | (mask < 0.5) & ndimage.binary_dilation(head_cover, iterations=4)
    body = img.copy()
    body[under] = filled[under]
    body_alpha = np.clip(mask.astype(np.float32), 0, 1)
    if behind_head is None:
        body_alpha[head_cover] = 1.0
    else:
        behind = np.clip(behind_head, 0, 1)
        body_alpha[head_cover] = behind[head_cover]
        # the mask's rim just outside the head above its lowest row is the hair's edge (half hair, half wall)
        # that the mesh did not quite reach: it turns with the head, not stays as a pale crescent
        rows = np.flatnonzero(head_cover.any(axis=1))
        if len(rows):
            reach = max(2, image.shape[0] // 40)
            # city-block distance to the head (what repeated 4-neighbour dilations reach)
            dist = ndimage.distance_transform_cdt(~head_cover, metric="taxicab")
            rim = (dist <= reach) & ~head_cover
            rim[rows[-1] + 1:] = False
            # so are small pieces of the person left near the head beyond that rim (tufts of hair, the ear's
            # edge): kept, they stayed behind a turning head as floating flakes
            pieces, n = ndimage.label((body_alpha > 0.5) & ~head_cover & ~rim)
            if n:
                sizes = np.bincount(pieces.ravel(), minlength=n + 1)
                near = np.zeros(n + 1, bool)
                near[np.unique(pieces[dist <= 3 * reach])] = True
                small = near & (sizes < 0.005 * mask.size)
                small[0] = False
                rim |= small[pieces]
            body_alpha[rim] *= behind[rim]
    return PortraitLayers(background, body.astype(np.float32), body_alpha.astype(np.float32))


@njit(cache=True, nogil=True)
def _splat(points, values, weights, grid_h, grid_w, scale, num, den):
    for k in range(points.shape[0]):
        if weights[k] <= 0:
            continue
        x = points[k, 0] / scale - 0.5
        y = points[k, 1] / scale - 0.5
        x0 = int(np.floor(x))
        y0 = int(np.floor(y))
        fx = x - x0
        fy = y - y0
        for dy in range(2):
            for dx in range(2):
                xi = x0 + dx
                yi = y0 + dy
                if 0 <= xi < grid_w and 0 <= yi < grid_h:
                    w = weights[k] * (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
                    den[yi, xi] += w
                    num[yi, xi, 0] += w * values[k, 0]
                    num[yi, xi, 1] += w * values[k, 1]


def body_flow(points: np.ndarray, displacement: np.ndarray, weights: np.ndarray, width: int, height: int,
              sigma_frac: float = 0.06, cell: int = 8) -> np.ndarray:
    """A smooth backward flow ``(H, W, 2)`` from sparse samples.

    ``points (N, 2)`` are output pixel positions with ``displacement (N, 2)``
    (source minus output position) and ``weights (N,)``.  The field is a
    normalised Gaussian average whose strength falls off away from the samples
    (far pixels do not move).  Computed on a grid of ``cell``-pixel cells.
    """
    gh, gw = (height + cell - 1) // cell, (width + cell - 1) // cell
    num = np.zeros((gh, gw, 2), np.float64)
    den = np.zeros((gh, gw), np.float64)
    _splat(np.ascontiguousarray(points, np.float64), np.ascontiguousarray(displacement, np.float64),
           np.ascontiguousarray(weights, np.float64), gh, gw, float(cell), num, den)
    sigma = max(1.0, sigma_frac * max(width, height) / cell)
    num = ndimage.gaussian_filter(num, (sigma, sigma, 0), mode="constant")
    den = ndimage.gaussian_filter(den, sigma, mode="constant")
    # a pixel is fully attached when the sample density is at least a fraction of the head's typical density
    ref = np.percentile(den[den > 0], 90) if (den > 0).any() else 1.0
    field = num / (den[..., None] + 0.05 * ref)
    flow = cv2.resize(field.astype(np.float32), (gw * cell, gh * cell), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(flow[:height, :width])
