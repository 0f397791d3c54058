"""The portrait photo as the avatar camera sees it, for ``--background portrait``.

The crop is the one :func:`~vasa3d.face.analyze_portrait` made (same centre,
angle and scale, so the avatar's fitted camera sees it pixel for pixel), taken
again from the source photo at a higher resolution than training used, with
mediapipe's selfie segmentation of the person on it.
"""

from __future__ import annotations

import numpy as np

from vasa3d.face import detectors
from vasa3d.face.portrait import PortraitAnalysis, _check_image, _warp

PORTRAIT_LAYER_SIZE = 512


def portrait_layers(image: np.ndarray, analysis: PortraitAnalysis,
                    size: int = PORTRAIT_LAYER_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The crop of ``image`` at ``size`` px and its person mask.

    Args:
        image: the source photo ``(H, W, 3)`` uint8 that ``analysis`` was made from.
        analysis: its :class:`PortraitAnalysis` (any crop size).
        size: side of the returned square, in pixels.

    Returns:
        ``crop (size, size, 3)`` uint8 and ``mask (size, size)`` uint8 (255 = person).
    """
    image = _check_image(image)
    M = np.asarray(analysis.transform, np.float64) * (size / analysis.size)
    crop = _warp(image, M, size)
    seg = detectors.segmenter().process(crop).segmentation_mask
    mask = (np.clip(np.asarray(seg, np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return crop, mask


def portrait_tensors(image: np.ndarray, analysis: PortraitAnalysis, size: int = PORTRAIT_LAYER_SIZE) -> dict:
    """:func:`portrait_layers` as the tensors a :class:`~vasa3d.gaussians.GaussianAvatar` carries (``.portrait``)."""
    import torch

    crop, mask = portrait_layers(image, analysis, size)
    return {"image": torch.from_numpy(crop), "mask": torch.from_numpy(mask)}
