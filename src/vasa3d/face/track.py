"""Video face tracking: frames -> per-frame ARKit weights and head pose (the motion encoder).

Per frame: mediapipe's face mesh in tracking mode gives 478 landmarks; a
few damped Gauss-Newton steps, warm-started from the previous frame, fit the
head's pose and 52 ARKit weights to them with the identity and camera held
fixed (both fitted once, on the first frame with a face), with ARKit's
``mouthClose <= jawOpen``.  That first face is
the person followed: in later frames, among up to four faces, the one whose
landmark shape matches it and that lies nearest the last position
(:class:`PersonFollower`); frames showing only someone else count as no face.  Afterwards the
parameter tracks are smoothed in time with a zero-phase Gaussian.

The pose is expressed for a camera straight in front of the head (on +z,
looking at the origin) with the fitted focal length, so ``z_pose`` is the
head's rotation and translation in the world frame of
:mod:`vasa3d.render.camera`.
"""

from __future__ import annotations


import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.face import detectors
from vasa3d.face import landmarks as L
from vasa3d.face.portrait import _mesh_to_array
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera


@dataclass
class TrackConfig:
    """Video tracking settings."""

    iterations: int = 3
    """Gauss-Newton steps per frame (warm-started from the previous frame)."""
    expression_prior: float = 2e-4
    """Ridge on the ARKit weights (per unit weight squared, against squared errors in inter-ocular units)."""
    temporal_prior: float = 2e-3
    """Pull toward the previous frame's ARKit weights (same units)."""
    smoothing: float = 1.0
    """Gaussian smoothing of the tracks, in frames (0: none)."""
    fps: float = 25.0
    """Frames per second when the input does not say (a list of frames)."""


@dataclass
class TrackResult:
    """Everything tracking measured.

    Attributes:
        motion: the smoothed :class:`MotionLatent` (``arkit52+pose``).
        landmarks: ``(T, 478, 2)`` detected landmarks in pixels (NaN where no face).
        reprojected: ``(T, 478, 2)`` the head's landmarks under the smoothed parameters.
        found: ``(T,)`` bool, a face was detected.
        camera: the fixed front camera the pose is expressed for.
        shape: ``(1, S)`` identity coefficients.
    """

    motion: MotionLatent
    landmarks: np.ndarray
    reprojected: np.ndarray
    found: np.ndarray
    camera: Camera
    shape: torch.Tensor
    raw_expression: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def reprojection_error(self) -> np.ndarray:
        """``(T,)`` mean landmark distance / face width per frame with a face."""
        out = np.full(len(self.found), np.nan)
        for t in np.where(self.found)[0]:
            lm = self.landmarks[t]
            out[t] = np.linalg.norm(self.reprojected[t] - lm, axis=1).mean() / L.face_width(lm)
        return out


def read_video(path: str | os.PathLike) -> tuple[Iterator[np.ndarray], float, int]:
    """RGB frames of a video file (uint8 ``(H, W, 3)``), its frame rate and frame count (0 if unknown)."""
    import av

    if not os.path.isfile(path):
        raise InputError(f"video not found: {path}")
    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise InputError(f"cannot read {path} as a video ({exc}); give an mp4/mov/webm/avi file") from None
    fps = float(stream.average_rate or stream.guessed_rate or 25.0)
    count = int(stream.frames or 0)

    def frames() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise InputError(f"{path} is corrupt ({exc})") from None
        finally:
            container.close()

    return frames(), fps, count


#: stable points for telling people apart (face oval, brows, eye corners, nose, mouth corners): the shape
#: of these after removing position, size and in-plane rotation differs between people more than
#: between one person's frames
_IDENTITY_POINTS = np.array([10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
                             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
                             109, 70, 105, 107, 336, 334, 300, 33, 133, 362, 263, 1, 4, 98, 327, 168, 61, 291])
SAME_PERSON = 0.08
"""Largest landmark-shape distance (:func:`shape_distance`, in face sizes) still taken for the tracked person."""


def _normalised_shape(lm: np.ndarray) -> np.ndarray:
    """``(K, 2)`` identity points centred, scaled to unit RMS size."""
    pts = lm[_IDENTITY_POINTS, :2].astype(np.float64)
    pts = pts - pts.mean(0)
    return pts / max(np.sqrt((pts ** 2).sum(1).mean()), 1e-9)


def shape_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between two faces' identity points after the best similarity transform (position,
    size, in-plane rotation), in units of face size: ~0.01-0.02 for one person over frames, more for another."""
    pa, pb = _normalised_shape(a), _normalised_shape(b)
    u, _, vt = np.linalg.svd(pb.T @ pa)
    r = u @ vt  # the rotation taking b onto a
    scale = np.trace((pb @ r).T @ pa) / max((pb ** 2).sum(), 1e-12)
    return float(np.sqrt(((pb @ r * scale - pa) ** 2).sum(1).mean()))


class PersonFollower:
    """Picks the tracked person's face among a frame's faces.

    The first frame with a face fixes the person (its largest face). Afterwards a face is that person if
    its landmark shape is within :data:`SAME_PERSON` of the first face's, or of the face taken in the
    last frame (a head that turns or opens its mouth changes shape, but little from one frame to the
    next); among such faces the one nearest to the last position (in units of the last face width, plus
    the change of size) is taken. A frame with only other people (a cut, someone else talking) has no
    face of the person.
    """

    def __init__(self, same_person: float = SAME_PERSON):
        self.same_person = same_person
        self.reference: np.ndarray | None = None
        self.previous: np.ndarray | None = None  # the person's face in the frame before, if it was found

    def __call__(self, faces: list[np.ndarray]) -> np.ndarray | None:
        chosen = None
        if faces and self.reference is None:
            chosen = self.reference = max(faces, key=L.face_width)
        elif faces:
            known = [self.reference] + ([self.previous] if self.previous is not None else [])
            same = [f for f in faces if min(shape_distance(k, f) for k in known) <= self.same_person]
            if same:
                last = self.previous if self.previous is not None else self.reference
                centre, width = last[:, :2].mean(0), max(L.face_width(last), 1e-6)

                def distance(f):
                    return (np.linalg.norm(f[:, :2].mean(0) - centre) / width
                            + abs(np.log(max(L.face_width(f), 1e-6) / width)))
                chosen = min(same, key=distance)
        self.previous = chosen
        return chosen


class _FrameSolver:
    """Per-frame pose + expression solve against fixed identity and camera."""

    def __init__(self, head, shape: torch.Tensor, K: torch.Tensor, w2c: torch.Tensor, cfg: TrackConfig,
                 weights: torch.Tensor) -> None:
        from vasa3d.head.params import HeadParams

        self.head, self.cfg = head, cfg
        self.E = head.n_expression
        self.base = HeadParams.neutral(1, head).replace(shape=shape)
        self.K, self.w2c = K, w2c
        self.sw = weights.sqrt()[:, None].expand(-1, 2).reshape(-1)
        self.eps = torch.cat([torch.full((6,), 1e-4), torch.full((self.E,), 1e-3)])
        names = list(getattr(head, "expression_names", ()))
        # ARKit's mouthClose closes the lips of an open jaw and is never larger than jawOpen: alone it
        # pushes the lips through each other.  Left free, the fit read closed mouths as mouthClose ~1
        # paired with mouthFunnel (their vertical parts cancel) and a small jawOpen, and an avatar
        # driven by that kept its lips shut while the driver's parted
        self.close_jaw = ((6 + names.index("mouthClose"), 6 + names.index("jawOpen"))
                          if {"mouthClose", "jawOpen"} <= set(names) else None)

    def residual(self, theta: torch.Tensor, target: torch.Tensor, iod: float) -> torch.Tensor:
        """``theta (B, 6 + E)`` -> weighted residuals ``(B, 956)``."""
        B = theta.shape[0]
        p = self.base.expand(B).replace(rotation=theta[:, :3], translation=theta[:, 3:6], expression=theta[:, 6:])
        pts = self.head.landmarks(p)
        pc = pts @ self.w2c[:3, :3].T + self.w2c[:3, 3]
        uv = self.K[[0, 1], [0, 1]] * pc[..., :2] / pc[..., 2:3].clamp_min(1e-4) + self.K[[0, 1], [2, 2]]
        return ((uv - target) / iod).reshape(B, -1) * self.sw

    def step(self, theta: torch.Tensor, prev: torch.Tensor, target: torch.Tensor, iod: float) -> torch.Tensor:
        n = theta.shape[0]
        for _ in range(self.cfg.iterations):
            probe = theta[None].repeat(n + 1, 1)
            probe[1:] += torch.diag(self.eps)
            r = self.residual(probe, target, iod)
            J = (r[1:] - r[0]) / self.eps[:, None]  # (n, 956)
            r0 = r[0]
            lam = torch.zeros(n)
            lam[6:] = self.cfg.expression_prior
            lt = torch.zeros(n)
            lt[6:] = self.cfg.temporal_prior
            A = J @ J.T + torch.diag(lam + lt + 1e-6)
            g = J @ r0 + lam * theta + lt * (theta - prev)
            delta = torch.linalg.solve(A.double(), -g.double()).float()
            theta = theta + delta
            theta[6:] = theta[6:].clamp(0.0, 1.0)
            if self.close_jaw is not None:
                close, jaw = self.close_jaw
                theta[close] = torch.minimum(theta[close], theta[jaw])
        return theta


def track_frames(frames: Iterable[np.ndarray], head=None, config: TrackConfig | None = None,
                 fps: float | None = None, total: int | None = None, quiet: bool = True) -> TrackResult:
    """Track a sequence of RGB frames; see :func:`track_video`."""
    from vasa3d.head import build_head
    from vasa3d.head.fit import FitConfig, fit_landmarks, landmark_weights
    from vasa3d.head.lbs import matrix_to_axis_angle
    from vasa3d.head.params import HeadParams
    from vasa3d.head.threads import single_thread
    from vasa3d.progress import track

    cfg = config or TrackConfig()
    if cfg.iterations < 1 or cfg.smoothing < 0 or cfg.fps <= 0 or cfg.expression_prior < 0 or cfg.temporal_prior < 0:
        raise InputError("tracking settings out of range: iterations >= 1, fps > 0, smoothing and priors >= 0")
    head = head or build_head()
    # tracking mode keeps state: one graph per video; several faces, so that the person can be told apart
    mesh = detectors.new_face_mesh(static=False, max_faces=4)
    follow = PersonFollower()
    lms: list[np.ndarray | None] = []
    thetas: list[np.ndarray | None] = []
    solver = None
    theta = prev = None
    size = None
    with single_thread():
        for frame in track(frames, "tracking face", total=total, quiet=quiet):
            if frame.ndim != 3 or frame.shape[2] < 3 or frame.dtype != np.uint8:
                raise InputError(f"frames must be uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}")
            h, w = frame.shape[:2]
            if size is None:
                size = (w, h)
            result = mesh.process(np.ascontiguousarray(frame[..., :3]))
            lm = follow([_mesh_to_array(f, w, h) for f in result.multi_face_landmarks or []])
            lms.append(None if lm is None else lm[:, :2])
            if lm is None:
                thetas.append(None)
                continue
            target = torch.as_tensor(lm[:, :2], dtype=torch.float32)
            iod = L.inter_ocular(lm)
            if solver is None:
                fit = fit_landmarks(lm, w, h, head, FitConfig(iterations=100))
                # re-express the fit for a camera straight in front of the head at the same distance
                dist = float(fit.camera.position.norm())
                front = Camera.look_at((0.0, 0.0, dist), (0.0, 0.0, 0.0), width=w, height=h, K=fit.camera.K)
                M = torch.linalg.inv(front.world_to_cam) @ fit.camera.world_to_cam  # head pose, world frame
                weights = torch.as_tensor(landmark_weights(FitConfig()), dtype=torch.float32)
                solver = _FrameSolver(head, fit.params.shape, front.K, front.world_to_cam, cfg, weights / weights.mean())
                theta = torch.cat([matrix_to_axis_angle(M[:3, :3]), M[:3, 3], fit.params.expression[0]])
                prev = theta.clone()
            theta = solver.step(theta, prev, target, iod)
            prev = theta.clone()
            thetas.append(theta.numpy().copy())
        if solver is None:
            raise FaceNotFoundError("no face found in any frame of the video; use a video with a visible face")

        T = len(thetas)
        found = np.array([t is not None for t in thetas])
        # frames without a face hold the nearest tracked frame's parameters
        idx = np.where(found)[0]
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(T)), 0, len(idx) - 1)]
        raw = np.stack([thetas[i] for i in nearest])
        smooth = raw.copy()
        if cfg.smoothing > 0 and T > 1:
            smooth = gaussian_filter1d(raw, cfg.smoothing, axis=0, mode="nearest")
            smooth[:, 6:] = smooth[:, 6:].clip(0, 1)
        th = torch.as_tensor(smooth, dtype=torch.float32)
        with torch.no_grad():
            rep = []
            for s in range(0, T, 256):
                uv = solver.residual(th[s:s + 256], torch.zeros(478, 2), 1.0) / solver.sw
                rep.append(uv.reshape(-1, 478, 2).numpy())
        reprojected = np.concatenate(rep)
    landmarks = np.stack([lm if lm is not None else np.full((478, 2), np.nan, np.float32) for lm in lms])
    z_pose = np.concatenate([smooth[:, :6], np.zeros((T, 1))], 1)
    motion = MotionLatent(smooth[:, 6:], z_pose, fps=fps or cfg.fps)
    return TrackResult(motion, landmarks, reprojected, found, front, solver.base.shape, raw[:, 6:])


def track_video(video, head=None, config: TrackConfig | None = None, quiet: bool = True) -> MotionLatent:
    """Track a talking-head video into motion latents (ARKit weights + head pose per frame).

    Args:
        video: a video file path, or a sequence of uint8 RGB frames ``(H, W, 3)``.
        head: the head model to fit (built-in when None).
        config: :class:`TrackConfig`.
        quiet: no progress bar.

    Returns:
        :class:`MotionLatent` at the video's frame rate (``config.fps`` for a frame list).

    Raises:
        InputError: unreadable video; FaceNotFoundError: no face in any frame.
    """
    return track_video_detailed(video, head, config, quiet).motion


def track_video_detailed(video, head=None, config: TrackConfig | None = None, quiet: bool = True) -> TrackResult:
    """:func:`track_video` returning the full :class:`TrackResult`."""
    cfg = config or TrackConfig()
    if isinstance(video, (str, os.PathLike)):
        frames, fps, count = read_video(video)
        return track_frames(frames, head, cfg, fps=fps, total=count or None, quiet=quiet)
    frames = list(video)
    if not frames:
        raise InputError("no frames to track")
    return track_frames(frames, head, cfg, fps=cfg.fps, total=len(frames), quiet=quiet)


__all__ = ["TrackConfig", "TrackResult", "read_video", "track_frames", "track_video", "track_video_detailed"]

