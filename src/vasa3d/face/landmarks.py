"""Named mediapipe face-mesh landmark indices and measurements on them.

Index conventions are mediapipe's: "right" / "left" are the *subject's*
sides (the subject's right eye appears on the image's left).
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478
N_FACE = 468

#: iris centres (refined landmarks)
IRIS_RIGHT = 468
IRIS_LEFT = 473
IRIS_RIGHT_RING = (469, 470, 471, 472)
IRIS_LEFT_RING = (474, 475, 476, 477)
#: eye corners and lid mid-points
EYE_RIGHT_OUTER, EYE_RIGHT_INNER, EYE_RIGHT_UPPER, EYE_RIGHT_LOWER = 33, 133, 159, 145
EYE_LEFT_OUTER, EYE_LEFT_INNER, EYE_LEFT_UPPER, EYE_LEFT_LOWER = 263, 362, 386, 374
#: face outline extremes, nose and mouth
CHEEK_RIGHT, CHEEK_LEFT = 234, 454
NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
LIP_UPPER_OUTER, LIP_LOWER_OUTER = 0, 17
MOUTH_RIGHT, MOUTH_LEFT = 61, 291


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(subject-right, subject-left) eye centres ``(2,)`` from landmarks ``(478, >=2)``."""
    if len(lm) > IRIS_LEFT:
        return lm[IRIS_RIGHT, :2], lm[IRIS_LEFT, :2]
    return (lm[EYE_RIGHT_OUTER, :2] + lm[EYE_RIGHT_INNER, :2]) / 2, (
        lm[EYE_LEFT_OUTER, :2] + lm[EYE_LEFT_INNER, :2]
    ) / 2


def inter_ocular(lm: np.ndarray) -> float:
    """Distance between the two eye centres, in the landmarks' units."""
    r, l = eye_centres(lm)
    return float(np.linalg.norm(l - r))


def face_width(lm: np.ndarray) -> float:
    """Cheek-to-cheek width of the face, in the landmarks' units."""
    return float(np.linalg.norm(lm[CHEEK_LEFT, :2] - lm[CHEEK_RIGHT, :2]))


def lip_gap(lm: np.ndarray) -> float:
    """Inner-lip opening (upper to lower inner lip), in the landmarks' units."""
    return float(np.linalg.norm(lm[LIP_LOWER_INNER, :2] - lm[LIP_UPPER_INNER, :2]))


def eye_aperture(lm: np.ndarray, side: str) -> float:
    """Lid opening of the subject's ``side`` ("left"/"right") eye.

    The upper-to-lower lid mid-point distance measured across the line through
    the eye's corners (so a horizontal offset between the two lid points does
    not count as opening).
    """
    if side == "left":
        up, lo, a, b = EYE_LEFT_UPPER, EYE_LEFT_LOWER, EYE_LEFT_OUTER, EYE_LEFT_INNER
    else:
        up, lo, a, b = EYE_RIGHT_UPPER, EYE_RIGHT_LOWER, EYE_RIGHT_OUTER, EYE_RIGHT_INNER
    d = lm[up, :2] - lm[lo, :2]
    axis = lm[a, :2] - lm[b, :2]
    axis = axis / max(float(np.linalg.norm(axis)), 1e-12)
    return float(np.linalg.norm(d - np.dot(d, axis) * axis))


def frontalness(lm: np.ndarray) -> float:
    """Where the nose tip sits between the cheeks, 0..1 (0.5 = facing the camera)."""
    a, b = lm[CHEEK_RIGHT, :2], lm[CHEEK_LEFT, :2]
    d = b - a
    return float(np.dot(lm[NOSE_TIP, :2] - a, d) / max(np.dot(d, d), 1e-9))
