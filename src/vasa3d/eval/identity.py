"""Face-identity distance between two images (the paper's ArcFace metric, offline).

The paper measures identity similarity with ArcFace; its weights are not
redistributable, so this uses dlib's ResNet face descriptor (128-d, trained
for face verification; two photos of one person are usually < 0.6 apart),
whose model files ship in the ``face-recognition-models`` package.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from vasa3d.errors import FaceNotFoundError, InputError, MissingAssetError

__all__ = ["identity_distance", "face_descriptor", "identity_available", "SAME_PERSON_THRESHOLD"]

#: dlib's decision threshold: descriptors closer than this are the same person.
SAME_PERSON_THRESHOLD = 0.6


#: what the identity metric needs and the install line that gives it (not part of the default install)
INSTALL_HINT = "pip install 'vasa3d[identity]' (dlib-bin, face-recognition-models==0.3.0)"


def identity_available() -> bool:
    """Whether dlib and its face models (the ``identity`` extra) are installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("dlib", "face_recognition_models"))


def _dlib():
    try:
        import dlib
    except ImportError:
        raise MissingAssetError(f"the identity metric needs dlib: {INSTALL_HINT}") from None
    return dlib


def _model_dir() -> Path:
    # The package's __init__ needs pkg_resources (setuptools); find its files without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetError(f"the identity metric needs the 'face-recognition-models' package: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@lru_cache(maxsize=1)
def _models():
    dlib = _dlib()
    d = _model_dir()
    files = {"shape": d / "shape_predictor_5_face_landmarks.dat", "rec": d / "dlib_face_recognition_resnet_model_v1.dat"}
    for f in files.values():
        if not f.exists():
            raise MissingAssetError(f"{f} is missing; reinstall face-recognition-models==0.3.0")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(files["shape"])), \
        dlib.face_recognition_model_v1(str(files["rec"]))


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise InputError(f"{name} must be an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def face_descriptor(image: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The 128-d identity descriptor of the largest face in ``image`` (uint8 RGB ``(H, W, 3)``).

    ``box`` ``(x0, y0, x1, y1)`` skips detection (for faces the detector misses,
    such as strong side views).  Raises :class:`FaceNotFoundError` when no face is found and
    :class:`MissingAssetError` without the ``identity`` extra.
    """
    dlib = _dlib()
    image = _check_image(image, "image")
    detector, shape_predictor, recognizer = _models()
    if box is None:
        rects, scores, _ = detector.run(image, 1, 0)
        if len(rects) == 0:
            raise FaceNotFoundError("no face found for the identity metric; give the face box explicitly")
        # the largest face; among equal sizes the most confident one
        best = max(range(len(rects)), key=lambda k: (rects[k].width() * rects[k].height(), scores[k]))
        rect = rects[best]
    else:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        rect = dlib.rectangle(x0, y0, x1, y1)
    shape = shape_predictor(image, rect)
    return np.asarray(recognizer.compute_face_descriptor(image, shape, 0), dtype=np.float32)


def identity_distance(
    image_a: np.ndarray,
    image_b: np.ndarray,
    box_a: tuple[int, int, int, int] | None = None,
    box_b: tuple[int, int, int, int] | None = None,
) -> float:
    """Euclidean distance between the face descriptors of two images (0 = same face).

    Below :data:`SAME_PERSON_THRESHOLD` (0.6) dlib calls two faces the same person.
    """
    return float(np.linalg.norm(face_descriptor(image_a, box_a) - face_descriptor(image_b, box_b)))
