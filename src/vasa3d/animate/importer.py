"""Datasets from outside the animator: another 2D generator's frames, or a real talking video.

``import_frames``: a folder that any 2D talking-head generator can fill (see
``docs/dataset.md``): ``frames/`` (or ``frames.mp4``), ``motion.npz`` with one
latent per frame, and optionally ``masks/``, ``cameras.npz`` and
``portrait.png``.

``dataset_from_video``: every frame of a real video is analysed (crop,
landmarks, mask) and the head fitted to it; the fitted expression becomes
``z_dyn``, and the head's motion relative to the first frame's camera becomes
``z_pose``, so all frames share one camera as the animator's frames do.
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

__all__ = ["import_frames", "dataset_from_video", "pose_from_cameras"]

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


def pose_from_cameras(reference: Camera, camera: Camera) -> np.ndarray:
    """``z_pose (7,)`` that moves the head so that ``reference`` sees it as ``camera`` saw the still head.

    ``world_to_cam_ref · [R t] = world_to_cam``  =>  ``[R t] = world_to_cam_ref^-1 · world_to_cam``.
    """
    rel = torch.linalg.inv(reference.world_to_cam.double()) @ camera.world_to_cam.double()
    R, t = rel[:3, :3].numpy(), rel[:3, 3].numpy()
    angle = math.acos(float(np.clip((np.trace(R) - 1) / 2, -1, 1)))
    if angle < 1e-8:
        rvec = np.zeros(3)
    else:
        axis = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * math.sin(angle))
        rvec = axis * angle
    return np.concatenate([rvec, t, [0.0]]).astype(np.float32)


def dataset_from_video(video, root, seed: int = 0, size: int = 512, max_frames: int | None = None,
                       quiet: bool = False) -> FrameDataset:
    """A dataset from a real talking video of the person: real frames, tracked latents.

    Frames where no usable face is found are left out (and counted); a video where
    most frames fail is refused.
    """
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import probe_video
    from vasa3d.progress import track

    path = Path(video)
    info = probe_video(path)  # one-line error for a missing, empty or corrupt file
    if not info["video"] or info["video"]["frames"] == 0:
        raise InputError(f"{path} has no video frames; it may be corrupt")
    fps = info["video"]["fps"] or 25.0
    n_total = info["video"]["frames"] if not max_frames else min(max_frames, info["video"]["frames"])
    head = build_head(None)
    reader = _VideoReader(path)
    crops, masks, z_dyn, z_pose, K = [], [], [], [], []
    reference = None
    skipped = 0
    for i in track(range(n_total), "tracking video", quiet=quiet):
        try:
            analysis = analyze_portrait(reader(i), size=size)
        except FaceNotFoundError as exc:
            if reference is None and i == 0:
                raise FaceNotFoundError(f"first frame of {path.name}: {exc}") from None
            skipped += 1
            continue
        fit = fit_portrait(analysis, head)
        if reference is None:
            reference = fit.camera
        zd = fit.params.expression.detach().reshape(-1)[:52].numpy()
        z_dyn.append(zd)
        z_pose.append(pose_from_cameras(reference, fit.camera))
        K.append(fit.camera.K.detach().numpy())
        crops.append(_encode(analysis.image))
        masks.append(_encode((np.clip(analysis.mask, 0, 1) * 255).round().astype(np.uint8)))
    if len(crops) < max(1, n_total // 2):
        raise InputError(f"a usable face was found in only {len(crops)} of {n_total} frames of {path.name}; "
                         "use a video where the face is visible, frontal and at least 64 px wide")
    if skipped:
        print(f"note: left out {skipped} of {n_total} frames without a usable face", file=sys.stderr)
    motion = MotionLatent(np.stack(z_dyn), np.stack(z_pose), fps)
    n = len(crops)
    cams = Camera(torch.from_numpy(np.stack(K)), reference.world_to_cam.reshape(1, 4, 4).expand(n, 4, 4).clone(),
                  size, size)
    plan = DatasetPlan(motion, cams, seed=seed, source={"kind": "video", "video": path.name, "skipped": skipped})

    def frame(i: int):
        return _decode(crops[i], cv2.IMREAD_COLOR), _decode(masks[i], cv2.IMREAD_GRAYSCALE)

    return write_dataset(root, plan, frame, portrait=_decode(crops[0], cv2.IMREAD_COLOR), workers=1, quiet=quiet,
                         description="writing frames")
