"""Datasets from outside the animator: another 2D generator's frames, or a real talking video.

``import_frames``: a folder that any 2D talking-head generator can fill (see
``docs/dataset.md``): ``frames/`` (or ``frames.mp4``), ``motion.npz`` with one
latent per frame, and optionally ``masks/``, ``cameras.npz`` and
``portrait.png``.

``dataset_from_video``: a real video, tracked by :mod:`vasa3d.face` (ARKit
weights and head pose per frame), cropped once like a portrait, with the
tracker's camera carried into the crop; all frames share that camera, as the
animator's frames do.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from vasa3d.animate.dataset import DatasetPlan, FrameDataset, write_dataset
from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera

__all__ = ["import_frames", "dataset_from_video", "crop_camera"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def _decode(buf: np.ndarray, flags=cv2.IMREAD_UNCHANGED) -> np.ndarray:
    img = cv2.imdecode(buf, flags)
    return img[..., ::-1].copy() if img.ndim == 3 else img


def _encode(img: np.ndarray, ext: str = ".png") -> np.ndarray:
    ok, buf = cv2.imencode(ext, img[..., ::-1] if img.ndim == 3 else img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("image encoding failed")
    return buf


def _square(img: np.ndarray, size: int, interp=cv2.INTER_AREA) -> np.ndarray:
    h, w = img.shape[:2]
    if h != w:
        raise InputError(f"imported frames must be square (got {w}x{h}); crop them the way the portrait was cropped")
    return img if h == size else cv2.resize(img, (size, size), interpolation=interp)


class _VideoReader:
    """Frames of a video in order (reopens when asked to go back)."""

    def __init__(self, path: Path) -> None:
        self.path, self._it, self._next = path, None, 0

    def __call__(self, i: int) -> np.ndarray:
        import av

        if self._it is None or i < self._next:
            self._container = av.open(str(self.path))
            self._it = self._container.decode(video=0)
            self._next = 0
        for frame in self._it:
            self._next += 1
            if self._next - 1 == i:
                return frame.to_ndarray(format="rgb24")
        raise InputError(f"{self.path} has fewer frames than its motion file")


def _check_cameras(path: Path, n: int) -> None:
    """``cameras.npz`` must hold ``K (1 or n, 3, 3)`` and ``world_to_cam (1 or n, 4, 4)`` floats: checked from its
    zip directory and headers, before a stranger's compressed file can unpack anything large."""
    import zipfile

    from vasa3d.io.npz import npz_layout

    try:
        layout = npz_layout(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} is not a cameras file ({str(exc)[:80]}); see docs/dataset.md") from None
    for name, tail in (("K", (3, 3)), ("world_to_cam", (4, 4))):
        dtype, shape = layout.get(name, (None, ()))
        if dtype is None or dtype.kind != "f" or not (shape == tail or (shape[1:] == tail and shape[0] in (1, n))):
            raise InputError(f"{path}: {name} must be 1 or {n} float matrices of {tail[0]}x{tail[1]}, not "
                             f"{'missing' if dtype is None else f'{dtype} {shape}'}; see docs/dataset.md")


def import_frames(source, root, seed: int = 0, size: int = 512, quiet: bool = False) -> FrameDataset:
    """A dataset from an external generator's output folder ``source`` (see the module docstring).

    Without ``cameras.npz`` all frames get the camera fitted to ``portrait.png`` (or the
    first frame), which assumes the frames are framed like the portrait's aligned crop.
    """
    from vasa3d.io import load_image

    src = Path(source)
    if not src.is_dir():
        raise InputError(f"import source not found: {src} is not a folder")
    motion = MotionLatent.load(src / "motion.npz") if (src / "motion.npz").exists() else None
    if motion is None:
        raise InputError(f"{src} has no motion.npz (one latent per frame); see docs/dataset.md")
    frames_dir, video = src / "frames", src / "frames.mp4"
    if frames_dir.is_dir():
        files = sorted(p for p in frames_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        read = lambda i: load_image(files[i])  # noqa: E731
        n = len(files)
    elif video.exists():
        from vasa3d.io import probe_video

        info = probe_video(video)
        if not info["video"]:
            raise InputError(f"{video} has no video track")
        read, n = _VideoReader(video), int(info["video"]["frames"])
    else:
        raise InputError(f"{src} has neither frames/ nor frames.mp4; see docs/dataset.md")
    if n == 0:
        raise InputError(f"{src} holds no frames")
    if n != len(motion):
        print(f"note: {n} frames but {len(motion)} latents; using the first {min(n, len(motion))}", file=sys.stderr)
        n = min(n, len(motion))
        motion = motion.slice(0, n)
    masks = sorted(p for p in (src / "masks").iterdir()) if (src / "masks").is_dir() else None
    if masks is not None and len(masks) < n:
        raise InputError(f"{src}/masks has {len(masks)} files for {n} frames")

    portrait = load_image(src / "portrait.png") if (src / "portrait.png").exists() else None
    if (src / "cameras.npz").exists():
        _check_cameras(src / "cameras.npz", n)
        with np.load(src / "cameras.npz", allow_pickle=False) as c:
            K, w2c = c["K"].astype(np.float32), c["world_to_cam"].astype(np.float32)
        first = read(0)
        scale = size / first.shape[1]
        K = K.reshape(-1, 3, 3).copy()
        K[:, :2] *= scale
        cams = Camera(torch.from_numpy(K), torch.from_numpy(w2c.reshape(-1, 4, 4)), size, size)
        if len(cams) not in (1, n):
            raise InputError(f"cameras.npz has {len(cams)} cameras for {n} frames")
    else:
        from vasa3d.face import analyze_portrait
        from vasa3d.head import build_head, fit_portrait

        ref = portrait if portrait is not None else read(0)
        analysis = analyze_portrait(_square(ref, size, cv2.INTER_CUBIC), size=size)
        cams = fit_portrait(analysis, build_head(None)).camera

    def frame(i: int):
        rgb = _square(read(i), size)
        if masks is None:
            return rgb, np.full(rgb.shape[:2], 255, np.uint8)
        m = load_image(masks[i])[..., 0]
        return rgb, _square(m, size)

    plan = DatasetPlan(motion, cams, seed=seed, source={"kind": "import", "source": src.name,
                                                        "masks": masks is not None})
    return write_dataset(root, plan, frame, portrait=portrait, workers=1, quiet=quiet, description="importing frames")


def crop_camera(camera: Camera, M: np.ndarray, size: int) -> Camera:
    """The camera that sees, in a crop made by the similarity ``M`` ``(2, 3)`` (source -> crop
    pixels), what ``camera`` sees in the source image.

    ``M = [s R | t]``: the in-plane rotation ``R`` becomes a roll of the camera about its
    axis, the scale multiplies the focal length and the principal point moves with ``M``.
    """
    A = np.asarray(M, np.float64)
    s = math.sqrt(abs(np.linalg.det(A[:, :2])))
    R2 = A[:, :2] / s
    K = camera.K.double().numpy().reshape(3, 3)
    if abs(K[0, 0] - K[1, 1]) > 1e-6 * K[0, 0] or abs(K[0, 1]) > 1e-9:
        raise ValueError("crop_camera needs square pixels without skew")
    c = A[:, :2] @ K[:2, 2] + A[:, 2]
    K2 = np.array([[s * K[0, 0], 0, c[0]], [0, s * K[1, 1], c[1]], [0, 0, 1]])
    roll = np.eye(4)
    roll[:2, :2] = R2
    w2c = roll @ camera.world_to_cam.double().numpy().reshape(4, 4)
    return Camera(torch.from_numpy(K2).float(), torch.from_numpy(w2c).float(), size, size)


def _warp(image: np.ndarray, M: np.ndarray, size: int) -> np.ndarray:
    # cv2 puts pixel centres at integers, this project at +0.5: conjugate the map by that shift
    A = np.vstack([np.asarray(M, np.float64), [0, 0, 1]])
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    A = np.linalg.inv(shift) @ A @ shift
    return cv2.warpAffine(image, A[:2], (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def dataset_from_video(video, root, seed: int = 0, size: int = 512, max_frames: int | None = None,
                       quiet: bool = False) -> FrameDataset:
    """A dataset from a real talking video of the person: real frames, tracked latents.

    The video is tracked (:func:`vasa3d.face.track_video_detailed`), which follows
    the first face it finds through cuts and other faces; the first frame with
    that face is analysed like a portrait (refusal of tiny or profile faces) and
    fixes one square crop for the whole video, and the tracker's camera is carried
    into the crop.  Frames without the person (black, a cut to someone else) are
    left out; a video where most frames have none is refused.
    """
    from vasa3d.face import analyze_portrait, track_video_detailed
    from vasa3d.face.detectors import segmenter
    from vasa3d.io import probe_video

    path = Path(video)
    info = probe_video(path)  # one-line error for a missing, empty or corrupt file
    if not info["video"] or info["video"]["frames"] == 0:
        raise InputError(f"{path} has no video frames; it may be corrupt")
    reader = _VideoReader(path)
    # the person is the first confident face (videos open on black, titles or someone else), followed
    # through cuts and other faces by the tracker; the crop is fixed on that first frame of theirs
    tracked = track_video_detailed(path, quiet=quiet)
    first = int(np.argmax(tracked.found))
    try:
        analysis = analyze_portrait(reader(first), size=size)
    except FaceNotFoundError as exc:
        raise FaceNotFoundError(f"frame {first} of {path.name} (the first with a face): {exc}") from None
    for w in analysis.warnings:
        print(f"note: {w}", file=sys.stderr)
    n_total = len(tracked.found) if not max_frames else min(max_frames, len(tracked.found))
    keep = np.nonzero(tracked.found[:n_total])[0]
    if len(keep) < max(1, n_total // 2):
        raise InputError(f"a face was tracked in only {len(keep)} of {n_total} frames of {path.name}; "
                         "use a video where the face stays visible")
    if len(keep) < n_total:
        print(f"note: left out {n_total - len(keep)} of {n_total} frames without a face", file=sys.stderr)
    m = tracked.motion
    motion = MotionLatent(m.z_dyn[keep], m.z_pose[keep], m.fps, m.schema, m.dyn_names, m.pose_names)
    camera = crop_camera(tracked.camera, analysis.transform, size)
    plan = DatasetPlan(motion, camera, seed=seed, source={"kind": "video", "video": path.name,
                                                          "frames": int(n_total), "kept": int(len(keep))})
    seg = segmenter()

    def frame(i: int):
        crop = _warp(reader(int(keep[i])), analysis.transform, size)
        mask = np.clip(np.asarray(seg.process(crop).segmentation_mask, np.float32), 0, 1)
        return crop, mask

    return write_dataset(root, plan, frame, portrait=analysis.image, workers=1, quiet=quiet,
                         description="writing frames")
