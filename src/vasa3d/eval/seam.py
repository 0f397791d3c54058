"""The jawline seam: a line of its own brightness (or darkness) along the jaw, measured.

A seam is a thin band along the jaw that is brighter than the skin on *both* its
sides (or darker than both): the chin above and the neck below.  A natural jaw
shadow is darker than the chin but blends into the neck, so it is not one.

For each point of the jaw contour (the mesh's jaw landmarks projected into the
image) a luminance profile is read along the contour's normal; a line is a
pixel brighter (or darker) than both pixels a few away on either side.  The
seam at that point is how far the strongest line stands out; :func:`jaw_seam`
averages it over the contour.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from vasa3d.head.landmark_sets import NOSE_TIP  # the outward normal of the contour points away from it

__all__ = ["JAW_CONTOUR", "jaw_contour", "jaw_seam", "seam_profiles"]

#: mediapipe face-oval indices of the lower jaw, subject's left (image right) to right, through the chin (152)
JAW_CONTOUR = (361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132)


def jaw_contour(vertices, landmark_vertices, camera) -> tuple[np.ndarray, np.ndarray]:
    """The jaw contour of a posed head in ``camera``'s image.

    Args:
        vertices: ``(V, 3)`` posed head vertices (world).
        landmark_vertices: ``(478,)`` the head's vertex of each mediapipe landmark.
        camera: a :class:`~vasa3d.render.camera.Camera`.

    Returns:
        ``points (N, 2)`` pixel positions and ``reference (2,)``: the nose tip's pixel (inside the face).
    """
    import torch

    lm = np.asarray(landmark_vertices)
    ids = torch.as_tensor(lm[list(JAW_CONTOUR) + [NOSE_TIP]])
    uv, _ = camera.project(torch.as_tensor(vertices)[ids].float())
    uv = uv.detach().cpu().numpy().astype(np.float64)
    return uv[:-1], uv[-1]


def _luminance(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image, np.float64)
    if img.dtype.kind in "ui" or img.max() > 1.5:
        img = img / 255.0
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def seam_profiles(image: np.ndarray, points: np.ndarray, reference: np.ndarray, half_width: float,
                  samples_per_point: int = 5) -> np.ndarray:
    """Luminance profiles ``(M, P)`` across the contour (inside to outside), ``P = 2 * half_width + 1`` px.

    The contour ``points (N, 2)`` is resampled to ``samples_per_point`` places per segment;
    the normal at each place points away from ``reference`` (a pixel inside the face).
    """
    pts = np.asarray(points, np.float64)
    t = np.linspace(0.0, 1.0, samples_per_point, endpoint=False)
    dense = np.concatenate([pts[i] + (pts[i + 1] - pts[i]) * t[:, None] for i in range(len(pts) - 1)] + [pts[-1:]])
    tangent = np.gradient(dense, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    flip = np.einsum("ij,ij->i", normal, dense - np.asarray(reference, np.float64)[None]) < 0
    normal[flip] *= -1
    offsets = np.arange(-int(round(half_width)), int(round(half_width)) + 1, dtype=np.float64)
    xy = dense[:, None, :] + offsets[None, :, None] * normal[:, None, :]
    lum = _luminance(image)
    # pixel centres at +0.5 (the project() convention)
    return map_coordinates(lum, [xy[..., 1] - 0.5, xy[..., 0] - 0.5], order=1, mode="nearest")


def jaw_seam(image: np.ndarray, points: np.ndarray, reference: np.ndarray, coverage: np.ndarray | None = None,
             reach: float = 0.12, line_width: float = 0.03) -> dict:
    """How strongly a line stands out along the jaw, in luminance (0 to 1).

    At each place of the contour the luminance profile across it is searched, over its middle half,
    for a line: a pixel brighter (or darker) than both pixels ``k`` away on either side, ``k`` being
    ``line_width`` x the contour's width (at least 2 px).  A step from lit chin to shadowed neck is
    no line; a thin bright band along the jaw is.

    Args:
        image: ``(H, W, 3)`` uint8 or float in [0, 1].
        points: ``(N, 2)`` the jaw contour (:func:`jaw_contour`).
        reference: ``(2,)`` a pixel inside the face (the nose tip).
        coverage: optional ``(H, W)`` bool: profiles reaching outside it (off the rendered head) are skipped.
        reach: the profile's half-length, as a fraction of the contour's width.
        line_width: the scale of a line, as a fraction of the contour's width.

    Returns:
        dict with ``bright`` and ``dark`` (mean over the contour of how far the brightest / darkest
        line stands out), ``seam`` (their sum), ``bright_share`` (share of the contour where a bright
        line stands out by more than 0.05) and ``profiles`` (the count used).
    """
    pts = np.asarray(points, np.float64)
    extent = float(np.ptp(pts[:, 0]))
    half_width = max(6.0, reach * extent)
    prof = seam_profiles(image, pts, reference, half_width)
    if coverage is not None:
        prof = prof[_inside(coverage, pts, reference, half_width)]
    if len(prof) == 0:
        nan = float("nan")
        return {"bright": nan, "dark": nan, "seam": nan, "bright_share": nan, "profiles": 0}
    P = prof.shape[1]
    k = max(2, int(round(line_width * extent)))
    centre = np.arange(max(k, P // 4), min(P - k, P - P // 4))
    mid, before, after = prof[:, centre], prof[:, centre - k], prof[:, centre + k]
    bright = np.maximum(0.0, (mid - np.maximum(before, after)).max(1))
    dark = np.maximum(0.0, (np.minimum(before, after) - mid).max(1))
    return {"bright": float(bright.mean()), "dark": float(dark.mean()), "seam": float(bright.mean() + dark.mean()),
            "bright_share": float((bright > 0.05).mean()), "profiles": int(len(prof))}


def _inside(coverage: np.ndarray, points: np.ndarray, reference: np.ndarray, half_width: float) -> np.ndarray:
    """Which profiles lie wholly inside ``coverage`` (their two ends, sampled like the profiles)."""
    cov = np.asarray(coverage, np.float64)[..., None].repeat(3, -1)
    ends = seam_profiles(cov, points, reference, half_width)[:, [0, -1]]
    return (ends > 0.5).all(1)
