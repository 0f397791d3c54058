"""Evaluate a trained avatar as the paper does: image metrics on held-out frames (in the head region and in the
face region, the paper's PSNR_face), identity against the portrait from the front and turned, holes from the
side, and lip sync measured on rendered video."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.progress import track
from vasa3d.render import rasterize
from vasa3d.render.camera import Camera

from vasa3d.train.regions import head_region

from .metrics import coverage, l1, psnr, ssim_value

SIDE_YAWS = (-45.0, 45.0)
IDENTITY_YAWS = (0.0, -30.0, 30.0, -45.0, 45.0)
#: what each ``perceptual_kind`` is (the EfficientNet distance is not LPIPS)
PERCEPTUAL_NAMES = {"LPIPS": "VGG16 feature distance in LPIPS's layout (LPIPS itself with its learned weights)",
                    "EfficientNetPerceptual": "EfficientNet-Lite0 feature distance (not LPIPS)"}


@dataclass
class EvalConfig:
    """What :func:`evaluate` measures."""

    max_frames: int = 0
    """Held-out frames to evaluate (0: all of them)."""
    perceptual: str = "auto"
    """Perceptual metric: auto (LPIPS-VGG with vgg_weights, else EfficientNet-Lite0 features), off."""
    vgg_weights: str = ""
    """VGG16 ImageNet weights for LPIPS (see docs/training.md)."""
    identity: bool = True
    """Identity distance (dlib ResNet) between renders and the portrait."""
    backend: str = "auto"
    """Rasterizer backend."""
    vas: bool = True
    """Evaluate G'' (with VAS deformation); off: G' (base deformation only)."""
    region: str = "head"
    """Compare within the head region (head: as training does; frame: the whole foreground)."""
    head_margin: float = 0.08
    """Growth of the head region beyond the mesh silhouette, as a fraction of the image width."""
    neck_fade: bool = True
    """Fade the head region out down the neck, as training does (off: the hard silhouette + margin)."""
    lipsync: bool = True
    """Lip sync on rendered video: the avatar speaks and mediapipe measures its lips on every frame."""
    audio: str = ""
    """Speech for the lip-sync check (default: the built-in synthesizer's sentence, with its exact phone timing)."""
    transcript: str = ""
    """Words of --audio, aligned for its /p b m/ count (without it only the loudness correlation is measured)."""
    lipsync_seconds: float = 30.0
    """At most this much of --audio is spoken (frames are rendered and measured one by one)."""


def _render(avatar, z_dyn: Tensor, z_pose: Tensor, camera: Camera, background: Tensor, backend: str, vas: bool):
    g = avatar(z_dyn[None], z_pose[None], vas=vas)[0]
    return rasterize(g, camera, camera.width, camera.height, background=background, backend=backend)


def _u8(img: Tensor) -> np.ndarray:
    return (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def mesh_silhouette(avatar, z_dyn: Tensor, z_pose: Tensor, camera: Camera, erode: int = 2,
                    without_neck: bool = False) -> Tensor:
    """``(H, W)`` bool: pixels covered by the avatar's head mesh (posed like the Gaussians), eroded by ``erode`` px;
    ``without_neck``: only its triangles outside the neck region (where the head model names one)."""
    from scipy.ndimage import binary_erosion

    from vasa3d.train.regions import mesh_silhouette as silhouette
    from vasa3d.train.regions import neck_faces

    with torch.no_grad():
        params = avatar.head_params(z_dyn[None], z_pose[None])
        verts = avatar.head(params)[0]
    neck = neck_faces(avatar.head) if without_neck else None
    faces = avatar.head.faces if neck is None else avatar.head.faces[torch.from_numpy(~neck)]
    mask = silhouette(verts, faces, camera.to("cpu"))
    if erode:
        mask = binary_erosion(mask, iterations=erode)
    return torch.from_numpy(mask)


def side_view(camera: Camera, target: Tensor, yaw_deg: float) -> Camera:
    from vasa3d.train.views import azimuth_elevation, orbit_like

    az, el = azimuth_elevation(camera, target)
    return orbit_like(camera, target, az + yaw_deg, el)


def evaluate(avatar, dataset, config: EvalConfig | None = None, portrait: np.ndarray | None = None,
             out_dir: str | os.PathLike | None = None, quiet: bool = False) -> dict:
    """Metrics of ``avatar`` on ``dataset.test_indices`` (or every frame when there is no test split).

    Args:
        avatar: a trained :class:`~vasa3d.gaussians.GaussianAvatar`.
        dataset: a :class:`~vasa3d.animate.FrameDataset` (or compatible).
        config: :class:`EvalConfig`.
        portrait: uint8 image for the identity distance; default the dataset's
            ``portrait.png`` when it has one, else the first test frame.
        out_dir: when given, writes ``metrics.json`` and ``report.png`` (frames vs.
            renders, and the neutral face from 0, +-30 and +-45 degrees) there.

    Returns:
        dict with ``psnr``, ``l1``, ``ssim``, ``perceptual`` (or ``None``) against the frame
        within the configured region, ``psnr_frame`` against the whole foreground,
        ``identity_distance`` (or ``None``), ``side_coverage`` (share of the head
        silhouette, without the neck when ``neck_fade``, with alpha >= 0.98 at +-45 degrees),
        ``frames`` and per-frame lists.
    """
    config = config or EvalConfig()
    indices = np.asarray(dataset.test_indices if len(dataset.test_indices) else np.arange(len(dataset)))
    if config.max_frames:
        indices = indices[: config.max_frames]
    if len(indices) == 0:
        raise InputError("the dataset has no frames to evaluate")
    device = avatar.means.device
    bg = avatar.background.detach().to(device)
    perceptual = None
    if config.perceptual != "off":
        from vasa3d.train.losses.perceptual import build_perceptual

        perceptual = build_perceptual(config.perceptual, config.vgg_weights).to(device)
    if portrait is None:
        portrait = _dataset_portrait(dataset)
    from vasa3d.eval.identity import INSTALL_HINT, identity_available

    if config.identity and portrait is not None and not identity_available():
        logging.getLogger("vasa3d").warning("identity distance skipped: it needs dlib's face models: %s", INSTALL_HINT)
        portrait = None
    per = {"psnr": [], "psnr_frame": [], "l1": [], "ssim": [], "perceptual": [], "identity_distance": [],
           "psnr_face": [], "ssim_face": [], "perceptual_face": []}
    shown = []
    identity_missing = 0
    with torch.no_grad():
        for k, i in enumerate(track(indices, "evaluating", quiet=quiet)):
            s = dataset[int(i)]
            cam = s.camera.to(device)
            out = _render(avatar, torch.as_tensor(s.z_dyn).float().to(device), torch.as_tensor(s.z_pose).float().to(device),
                          cam, bg, config.backend, config.vas)
            pred = out.color[0]
            full_target = (s.image * s.mask + bg.cpu() * (1 - s.mask)).to(device)
            mask = s.mask
            if config.region == "head":
                mask = mask * head_region(avatar, torch.as_tensor(s.z_dyn).float(), torch.as_tensor(s.z_pose).float(),
                                          s.camera, config.head_margin,
                                          **({} if config.neck_fade else {"neck_fade": None}))
            target = (s.image * mask + bg.cpu() * (1 - mask)).to(device)
            per["psnr"].append(psnr(pred, target))
            per["psnr_frame"].append(psnr(pred, full_target))
            per["l1"].append(l1(pred, target))
            per["ssim"].append(ssim_value(pred, target))
            if perceptual is not None:
                per["perceptual"].append(float(perceptual(pred[None].clamp(0, 1), target[None]).mean()))
            face = face_region(avatar, torch.as_tensor(s.z_dyn).float(), torch.as_tensor(s.z_pose).float(), s.camera)
            if face is not None:
                _face_metrics(per, pred, full_target, face, perceptual)
            if config.identity and portrait is not None:
                try:
                    from vasa3d.eval.identity import identity_distance

                    per["identity_distance"].append(identity_distance(_u8(pred), portrait))
                except FaceNotFoundError:
                    identity_missing += 1
            if k < 4:
                shown.append((_u8(target), _u8(pred)))
        camera = dataset[int(indices[0])].camera
        turned, coverages = _turned_views(avatar, camera, bg, config, portrait if config.identity else None)
        turned_expression = None
        if config.identity and portrait is not None:
            z_expression = portrait_expression(avatar, portrait)
            if z_expression is not None:
                turned_expression, _ = _turned_views(avatar, camera, bg, config, portrait, z_dyn=z_expression,
                                                     with_coverage=False)
    lips = _lipsync(avatar, config, quiet) if config.lipsync else None
    metrics = {name: (float(np.mean(v)) if v else None) for name, v in per.items()}
    kind = None if perceptual is None else type(perceptual).__name__
    metrics.update(
        frames=int(len(indices)),
        side_coverage=float(np.nanmin(coverages)) if coverages else None,
        side_coverage_by_yaw={str(y): c for y, c in zip(SIDE_YAWS, coverages)},
        identity_by_yaw={str(y): d for y, (_, d) in zip(IDENTITY_YAWS, turned)},
        identity_by_yaw_expression=(None if turned_expression is None else
                                    {str(y): d for y, (_, d) in zip(IDENTITY_YAWS, turned_expression)}),
        identity_no_face=identity_missing,
        perceptual_kind=kind,
        perceptual_name=PERCEPTUAL_NAMES.get(kind) if kind else None,
        lipsync=None if lips is None else lips.as_dict(),
        per_frame={k: v for k, v in per.items() if v},
    )
    if out_dir is not None:
        write_report(out_dir, metrics, shown, turned, lips, turned_expression)
    return metrics


def face_region(avatar, z_dyn: Tensor, z_pose: Tensor, camera: Camera) -> np.ndarray | None:
    """``(H, W)`` bool: inside the posed head's face oval (mediapipe's, from brow top to chin) in ``camera``'s
    image, the region of the paper's PSNR_face; None for a head model without mediapipe landmarks."""
    import cv2

    from vasa3d.head.landmark_sets import FACE_OVAL

    lmv = getattr(avatar.head, "landmark_vertices", None)
    if lmv is None or len(lmv) < 468 or int(torch.as_tensor(lmv).max()) == int(torch.as_tensor(lmv).min()):
        return None
    with torch.no_grad():
        params = avatar.head_params(z_dyn.reshape(1, -1).to(avatar.means), z_pose.reshape(1, -1).to(avatar.means))
        verts = avatar.head(params)[0].cpu()
    uv, _ = camera.to("cpu").project(verts[torch.as_tensor(lmv)[list(FACE_OVAL)].long()].float())
    mask = np.zeros((camera.height, camera.width), np.uint8)
    cv2.fillPoly(mask, [np.round(uv.numpy() - 0.5).astype(np.int32)], 1)  # pixel centres at +0.5
    return mask.astype(bool) if mask.sum() >= 16 else None


def _face_metrics(per: dict, pred: Tensor, target: Tensor, face: np.ndarray, perceptual) -> None:
    """PSNR over the face pixels; SSIM and perceptual distance on the face's bounding box, with the
    render's pixels outside the face replaced by the frame's (so that only the face differs)."""
    m = torch.from_numpy(face).to(pred.device)
    err = ((pred.clamp(0, 1) - target)[m] ** 2).mean()
    per["psnr_face"].append(float(-10 * torch.log10(err.clamp_min(1e-12))))
    ys, xs = np.nonzero(face)
    box = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
    mixed = torch.where(m[..., None], pred.clamp(0, 1), target)[box]
    if min(mixed.shape[:2]) >= 11:  # the SSIM window
        per["ssim_face"].append(ssim_value(mixed, target[box]))
        if perceptual is not None and min(mixed.shape[:2]) >= 32:
            per["perceptual_face"].append(float(perceptual(mixed[None], target[box][None]).mean()))


def portrait_expression(avatar, portrait: np.ndarray) -> Tensor | None:
    """``(dyn_dim,)`` the portrait's own expression as the avatar's motion latent: the avatar's head fitted
    to the photo's landmarks, read as the animator reads its portrait latent; None where no face is found."""
    from vasa3d.face import analyze_portrait
    from vasa3d.head import FitConfig, fit_portrait, latent_from_params

    try:
        analysis = analyze_portrait(portrait, size=int(min(portrait.shape[:2])))
        # the hair shell's fit moves only the shape, which the expression does not need
        fit = fit_portrait(analysis, avatar.head, FitConfig(hair=False))
    except FaceNotFoundError:
        return None
    z_dyn = torch.from_numpy(latent_from_params(fit.params)[0])
    return z_dyn if len(z_dyn) == avatar.dyn_dim else None


def _turned_views(avatar, camera: Camera, bg: Tensor, config: EvalConfig, portrait: np.ndarray | None,
                  z_dyn: Tensor | None = None, with_coverage: bool = True
                  ) -> tuple[list[tuple[np.ndarray, float | None]], list[float]]:
    """Renders at the latent ``z_dyn`` (default neutral) from ``IDENTITY_YAWS``, each with its identity
    distance to ``portrait`` (None without a portrait, or where dlib finds no face), and, with ``with_coverage``,
    the alpha coverage of the head silhouette at ``SIDE_YAWS`` (without the faded neck when ``neck_fade``:
    it is not part of the head to cover)."""
    device = avatar.means.device
    z_dyn = torch.zeros(avatar.dyn_dim, device=device) if z_dyn is None else z_dyn.to(device)
    z_pose = torch.zeros(avatar.pose_dim, device=device)
    target = avatar.head_center.cpu()
    views, cover = [], []
    for yaw in IDENTITY_YAWS:
        c = side_view(camera.to("cpu"), target, yaw).to(device)
        out = _render(avatar, z_dyn, z_pose, c, bg, config.backend, config.vas)
        img = _u8(out.color[0])
        if with_coverage and yaw in SIDE_YAWS:
            sil = mesh_silhouette(avatar, z_dyn, z_pose, c.to("cpu"), without_neck=config.neck_fade)
            cover.append(coverage(out.alpha[0, ..., 0].cpu(), sil))
        distance = None
        if portrait is not None:
            from vasa3d.eval.identity import identity_distance

            try:
                distance = identity_distance(img, portrait)
            except FaceNotFoundError:
                pass
        views.append((img, distance))
    return views, cover  # IDENTITY_YAWS has -45 before +45, as SIDE_YAWS


def _lipsync(avatar, config: EvalConfig, quiet: bool):
    """The avatar speaks (``config.audio`` or the built-in sentence), rendered from the front; mediapipe
    measures the lips on every frame (:func:`vasa3d.eval.lipsync.lipsync_on_video`)."""
    from vasa3d.drive import RenderConfig, render_frames
    from vasa3d.eval.lipsync import DEFAULT_SENTENCE, lipsync_on_video
    from vasa3d.motion import audio_to_motion

    sr = 16000
    if config.audio:
        from vasa3d.io.media import iter_audio

        limit = int(config.lipsync_seconds * sr)  # decoding stops there, whatever the recording's length
        chunks = iter_audio(config.audio, sr, chunk_seconds=min(10.0, config.lipsync_seconds))
        read = []
        for chunk in chunks:
            read.append(chunk)
            if sum(len(c) for c in read) >= limit:
                break
        samples = np.concatenate(read)[:limit] if read else np.zeros(0, np.float32)
        phonemes = None
        if config.transcript:
            from vasa3d.motion.phonetic import align_transcript

            phonemes = align_transcript(samples, config.transcript)
    else:
        from vasa3d.motion.synth import synthesize

        speech = synthesize(DEFAULT_SENTENCE, sr=sr)
        samples, phonemes = speech.samples, speech.phonemes
    motion = audio_to_motion(samples, sr)
    frames = render_frames(avatar, motion, RenderConfig(camera="front", size=avatar.camera.width,
                                                        backend=config.backend, background="black"), quiet=True)
    try:
        return lipsync_on_video(track(frames, "lip sync on rendered frames", total=len(motion), quiet=quiet),
                                samples, sr, motion.fps, phonemes)
    except InputError as exc:
        logging.getLogger("vasa3d").warning("lip sync skipped: %s", exc)
        return None


def _dataset_portrait(dataset) -> np.ndarray | None:
    root = getattr(dataset, "root", None)
    if root is not None and (Path(root) / "portrait.png").exists():
        from vasa3d.io import load_image

        return load_image(Path(root) / "portrait.png")
    return None


def write_report(out_dir: str | os.PathLike, metrics: dict, pairs: list,
                 turned: list[tuple[np.ndarray, float | None]], lips=None,
                 turned_expression: list[tuple[np.ndarray, float | None]] | None = None) -> Path:
    """``metrics.json`` and ``report.png`` (rows: frame | render pairs; then the neutral face from
    ``IDENTITY_YAWS``, each labelled with its yaw and identity distance, and the same views with the
    portrait's expression when given), and ``lipsync.png`` (measured lip gap over loudness)."""
    from vasa3d.io import save_image

    from vasa3d.io.paths import atomic_output

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=1,
                                  default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))
    rows = [np.concatenate([t, p], axis=1) for t, p in pairs]
    for views, tag in ((turned, ""), (turned_expression, "  photo's expr.")):
        if views is not None:
            rows.append(np.concatenate([_labelled(img, f"yaw {yaw:+.0f}" + ("" if d is None else f"  id {d:.2f}")
                                                  + tag) for yaw, (img, d) in zip(IDENTITY_YAWS, views)], axis=1))
    width = max(r.shape[1] for r in rows)
    pad = lambda im: np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)))  # noqa: E731
    save_image(out / "report.png", np.concatenate([pad(r) for r in rows], axis=0))
    if lips is not None:
        _plot_lipsync(out / "lipsync.png", lips)
    return out


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = np.ascontiguousarray(image[..., :3]).copy()
    scale = max(0.3, out.shape[1] / 600)
    at = (4, int(16 * scale / 0.5))
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _plot_lipsync(path: Path, lips) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vasa3d.io.paths import atomic_output

    t = np.arange(lips.frames) / lips.fps
    fig, ax = plt.subplots(figsize=(10, 3), dpi=100)
    ax.plot(t, lips.loudness / max(float(np.nanmax(lips.loudness)), 1e-9), color="0.6", label="loudness")
    ax.plot(t, lips.gap / max(float(np.nanmax(lips.gap)), 1e-9), color="C3", label="lip gap on the rendered frames")
    closures = "" if lips.closures is None else f", /p b m/ shut {lips.closures} of {lips.bilabials}"
    ax.set_title(f"lip sync on rendered video: r = {lips.r:.2f}{closures}")
    ax.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
