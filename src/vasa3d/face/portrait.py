"""One portrait photo to an aligned square crop, 478 landmarks and a foreground mask."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.face import detectors
from vasa3d.face import landmarks as L

#: faces narrower than this (cheek to cheek, source pixels) are refused
MIN_FACE_PX = 64
#: face width / crop width of the aligned crop
FACE_FRACTION = 0.5
#: the crop centre sits this far from the eye midpoint toward the chin
CENTRE_EYE_TO_CHIN = 0.32
#: the nose tip must sit within this band between the cheeks (0.5 = frontal)
FRONTAL_BAND = (0.2, 0.8)


@dataclass
class PortraitAnalysis:
    """What the face stage knows about one portrait.

    Attributes:
        image: ``(S, S, 3)`` uint8 RGB, square crop, eyes level, face ~half the width.
        landmarks: ``(478, 3)`` float32; x, y in crop pixels (pixel centres at +0.5),
            z mediapipe's relative depth at the same scale (smaller = nearer the camera).
        mask: ``(S, S)`` float32 in [0, 1], person foreground.
        crop_box: ``(x0, y0, x1, y1)`` of the (unrotated) crop square in source pixels.
        n_faces: how many faces the detector found in the source image.
        warnings: human-readable notes (several faces, low confidence...).
        transform: ``(2, 3)`` float64 affine map from source pixels to crop pixels.
    """

    image: np.ndarray
    landmarks: np.ndarray
    mask: np.ndarray
    crop_box: tuple[float, float, float, float]
    n_faces: int
    warnings: list[str] = field(default_factory=list)
    transform: np.ndarray = field(default_factory=lambda: np.eye(2, 3))

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def _check_image(image: np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray) and image.ndim == 2:  # grey: replicate into RGB
        image = np.repeat(image[..., None], 3, axis=2)
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an RGB image array (H, W, 3), got {getattr(image, 'shape', type(image))}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    if min(image.shape[:2]) < 16:
        raise InputError(f"image is too small ({image.shape[1]}x{image.shape[0]} pixels)")
    return np.ascontiguousarray(image[..., :3])


def _mesh_to_array(face_landmarks, width: int, height: int) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float32)
    # mediapipe normalises x by width, y by height and z roughly by width
    return pts * np.array([width, height, width], dtype=np.float32)


def _largest_mesh(result, width: int, height: int) -> tuple[np.ndarray | None, int]:
    faces = result.multi_face_landmarks or []
    if not faces:
        return None, 0
    arrays = [_mesh_to_array(f, width, height) for f in faces]
    widths = [L.face_width(a) for a in arrays]
    return arrays[int(np.argmax(widths))], len(arrays)


def detect_landmarks(image: np.ndarray) -> np.ndarray | None:
    """The 478 landmarks ``(478, 3)`` float32 (pixels) of the largest face, or None.

    Static-image mode (each call independent); for video use :func:`track_video`.
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    lm, _ = _largest_mesh(detectors.face_mesh(4).process(image), w, h)
    return lm


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)


def _detect_faces(image: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Face boxes ``(x0, y0, x1, y1, score)`` in pixels, largest first.

    Both detector models run (short range is sharper on close portraits, full
    range finds far faces); overlapping boxes are merged.
    """
    h, w = image.shape[:2]
    boxes: list[tuple[float, float, float, float, float]] = []
    for full_range in (False, True):
        res = detectors.face_detector(full_range).process(image)
        for det in res.detections or []:
            b = det.location_data.relative_bounding_box
            box = (b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h, det.score[0])
            if all(_iou(box, o) < 0.3 for o in boxes):
                boxes.append(box)
    boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return boxes


def _similarity(centre: np.ndarray, angle: float, side: float, size: int) -> np.ndarray:
    """``(2, 3)`` map taking a ``side``-pixel square centred at ``centre``, rotated by
    ``angle`` (radians), to a ``size``-pixel axis-aligned square."""
    s = size / side
    c, si = math.cos(-angle) * s, math.sin(-angle) * s
    A = np.array([[c, -si], [si, c]])
    t = np.array([size / 2, size / 2]) - A @ centre
    return np.hstack([A, t[:, None]])


def _apply(M: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts[:, :2] @ M[:, :2].T + M[:, 2]


def _warp(image: np.ndarray, M: np.ndarray, size: int) -> np.ndarray:
    # warpAffine samples pixel centres at integers; our convention puts them at +0.5
    shift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    M3 = shift @ np.vstack([M, [0, 0, 1]]) @ unshift
    return cv2.warpAffine(image, M3[:2], (size, size), flags=cv2.INTER_AREA if M[0, 0] ** 2 + M[0, 1] ** 2 < 1
                          else cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def analyze_portrait(image: np.ndarray, size: int = 512) -> PortraitAnalysis:
    """Find the face in a portrait, align and crop it, and measure it.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        size: side of the square output crop in pixels.

    Returns:
        A :class:`PortraitAnalysis` of the largest face.

    Raises:
        FaceNotFoundError: no face, a face under 64 px wide, or a profile view.
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    warnings: list[str] = []
    boxes = _detect_faces(image)
    # the mesh on the whole image catches faces the detector misses and vice versa
    lm_full, n_mesh = _largest_mesh(detectors.face_mesh(4).process(image), w, h)
    if not boxes and lm_full is None:
        raise FaceNotFoundError("no face found in the portrait; use a photo with one clearly visible face")
    n_faces = max(len(boxes), n_mesh)
    if lm_full is None:
        # face too small for the mesh's own detector: look again inside a crop around the detection
        x0, y0, x1, y1, _ = boxes[0]
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 2.2 * max(x1 - x0, y1 - y0)
        M = _similarity(np.array([cx, cy]), 0.0, side, 256)
        sub = _warp(image, M, 256)
        lm_sub, _ = _largest_mesh(detectors.face_mesh(4).process(sub), 256, 256)
        if lm_sub is None:
            raise FaceNotFoundError(
                f"found a face of {x1 - x0:.0f} px but could not place its landmarks (a profile, or a face too "
                "small or blurred); use a sharp photo of a face turned less than about 45 degrees"
            )
        Minv = cv2.invertAffineTransform(M)
        lm_full = np.concatenate([_apply(Minv, lm_sub), lm_sub[:, 2:] * side / 256], axis=1).astype(np.float32)
    if n_faces > 1:
        warnings.append(f"found {n_faces} faces; using the largest ({L.face_width(lm_full):.0f} px wide)")

    width_px = L.face_width(lm_full)
    if width_px < MIN_FACE_PX:
        raise FaceNotFoundError(
            f"the face is only {width_px:.0f} px wide (need >= {MIN_FACE_PX}); use a closer or higher-resolution portrait"
        )
    front = L.frontalness(lm_full)
    if not FRONTAL_BAND[0] <= front <= FRONTAL_BAND[1]:
        raise FaceNotFoundError("the face is seen in profile; use a portrait where the face looks toward the camera")

    eye_r, eye_l = L.eye_centres(lm_full)
    # the subject's right eye is on the image's left: the eye line runs right-to-left eye
    angle = math.atan2(eye_l[1] - eye_r[1], eye_l[0] - eye_r[0])
    side = width_px / FACE_FRACTION
    # centre: a third of the way from the eye midpoint to the chin, which leaves room for hair above
    eye_mid = (eye_r + eye_l) / 2
    centre = eye_mid + CENTRE_EYE_TO_CHIN * (lm_full[L.CHIN, :2] - eye_mid)
    M = _similarity(centre, angle, side, size)
    crop = _warp(image, M, size)

    lm_crop, _ = _largest_mesh(detectors.face_mesh(4).process(crop), size, size)
    if lm_crop is None:  # keep the source landmarks, mapped into the crop
        lm_crop = np.concatenate([_apply(M, lm_full), lm_full[:, 2:] * size / side], axis=1).astype(np.float32)
        warnings.append("landmarks could not be re-detected in the aligned crop; using the source landmarks")

    seg = detectors.segmenter().process(crop).segmentation_mask
    mask = np.clip(np.asarray(seg, dtype=np.float32), 0.0, 1.0)
    half = side / 2
    crop_box = (float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half))
    return PortraitAnalysis(crop, lm_crop.astype(np.float32), mask, crop_box, n_faces, warnings, M)
