"""The mediapipe graphs, created once per process and reused.

mediapipe 0.10.21's legacy ``solutions`` API ships its models inside the
wheel, so nothing is downloaded.  Building a graph costs ~0.1-0.3 s, so each
kind is built on first use and cached, one per process and thread (graphs
are neither thread- nor fork-safe).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from functools import lru_cache

# mediapipe's C++ side logs to stderr on first use; keep the user's terminal clean.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


_STDERR_LOCK = threading.Lock()


@contextmanager
def quiet_native_stderr():
    """Send C++ writes to stderr (fd 2) to /dev/null for the duration.

    mediapipe's glog/absl and TFLite print INFO/WARNING lines when a graph
    starts, ignoring GLOG_minloglevel; Python exceptions still propagate.
    """
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to hide
            yield
            return
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
                yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class _QuietGraph:
    """A mediapipe solution whose construction and ``process`` calls print nothing."""

    def __init__(self, factory):
        with quiet_native_stderr():
            self._graph = factory()

    def process(self, image):
        with quiet_native_stderr():
            return self._graph.process(image)

    def close(self) -> None:
        self._graph.close()


def _solutions():
    import mediapipe as mp  # imported lazily: it takes ~1 s

    return mp.solutions


def new_face_detector(full_range: bool = True, min_confidence: float = 0.5):
    """A face detector (``full_range``: the model for faces up to ~5 m away)."""
    return _QuietGraph(lambda: _solutions().face_detection.FaceDetection(
        model_selection=1 if full_range else 0, min_detection_confidence=min_confidence
    ))


def new_face_mesh(static: bool = True, max_faces: int = 1, min_confidence: float = 0.5):
    """A 478-point face mesh (468 face points + 10 iris points).

    ``static=False`` runs mediapipe's tracking mode: the detector only runs when
    tracking is lost, which is several times faster on video.
    """
    return _QuietGraph(lambda: _solutions().face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=max_faces,
        refine_landmarks=True,
        min_detection_confidence=min_confidence,
        min_tracking_confidence=0.5,
    ))


def new_segmenter():
    """The selfie (person foreground) segmenter, general model."""
    return _QuietGraph(lambda: _solutions().selfie_segmentation.SelfieSegmentation(model_selection=0))


def _owner() -> tuple[int, int]:
    """Graphs are neither thread- nor fork-safe: cache one per process and thread."""
    return os.getpid(), threading.get_ident()


@lru_cache(maxsize=64)
def _face_detector(owner, full_range: bool):
    return new_face_detector(full_range)


@lru_cache(maxsize=64)
def _face_mesh(owner, max_faces: int):
    return new_face_mesh(static=True, max_faces=max_faces)


@lru_cache(maxsize=64)
def _segmenter(owner):
    return new_segmenter()


def face_detector(full_range: bool = True):
    """The cached face detector of this process and thread."""
    return _face_detector(_owner(), full_range)


def face_mesh(max_faces: int = 1):
    """The cached static-image face mesh of this process and thread."""
    return _face_mesh(_owner(), max_faces)


def segmenter():
    """The cached selfie segmenter of this process and thread."""
    return _segmenter(_owner())


def tessellation_edges() -> frozenset[tuple[int, int]]:
    """The 468-point face mesh's edge set as shipped with mediapipe."""
    return frozenset(_solutions().face_mesh_connections.FACEMESH_TESSELATION)
