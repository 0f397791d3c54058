"""Drive an avatar from a motion file or a driving video, on any background: ``render`` and ``reenact``.

Like :mod:`vasa3d.pipeline`, this module wires the rooms and holds no maths:
motion comes from :func:`vasa3d.motion.files.read_motion` or the face tracker,
frames from :func:`vasa3d.render.rasterize`, backgrounds from
:mod:`vasa3d.render.composite`, files from :mod:`vasa3d.io`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vasa3d.errors import InputError
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.composite import BACKGROUND_HELP, BackgroundSpec, parse_background

log = logging.getLogger("vasa3d")

VIDEO_SUFFIXES = (".mp4", ".webm")


@dataclass
class RenderConfig:
    """Settings of ``vasa3d render`` and ``vasa3d reenact``."""

    camera: str = "front"
    """front (the portrait's view), orbit (circles +-30 degrees of yaw) or yaw=DEG,pitch=DEG."""
    size: int = 512
    """Output video width and height in pixels."""
    backend: str = "auto"
    """Rasterizer: auto, cpu, torch or gsplat."""
    background: str = "black"
    """black, white, #RRGGBB, an image file, portrait or transparent (.webm with alpha, or a folder of PNGs)."""


# --------------------------------------------------------------------------- checks
def check_settings(config: RenderConfig) -> BackgroundSpec:
    """Check the camera, size and background settings before any work; returns the parsed background."""
    from vasa3d.pipeline import parse_camera

    parse_camera(config.camera)
    if not 16 <= int(config.size) <= 4096:
        raise InputError(f"--size {config.size} is out of range; give 16 to 4096 pixels")
    return parse_background(config.background)


def check_video_output(output: str | os.PathLike, background: BackgroundSpec, inputs: list) -> Path:
    """The output of a rendering job: an .mp4 or .webm file, or a folder (no suffix) for PNG frames;
    a transparent background needs .webm (VP9 with alpha) or the folder."""
    from vasa3d.io.paths import check_output_dir, check_output_path

    p = Path(output)
    if p.suffix == "":
        return check_output_dir(p, inputs, "PNG folder")
    if background.transparent and p.suffix.lower() != ".webm":
        raise InputError(f"--background transparent writes a .webm video with alpha or a folder of PNGs; "
                         f"{p.name} is neither (mp4 has no alpha)")
    return check_output_path(p, inputs, VIDEO_SUFFIXES, "video")


def check_motion_fits(motion: MotionLatent, avatar, source: str) -> None:
    if motion.z_dyn.shape[1] != avatar.dyn_dim or motion.z_pose.shape[1] != avatar.pose_dim:
        raise InputError(f"{source} holds '{motion.schema}' motion ({motion.z_dyn.shape[1]} + "
                         f"{motion.z_pose.shape[1]} values a frame) but the avatar was trained on "
                         f"{avatar.dyn_dim} + {avatar.pose_dim}")


# --------------------------------------------------------------------------- frames
#: in front of its photo the avatar's neck fades out from the first height to the second (metres, head
#: frame, at rest), and the photo's own neck and collar show instead, in the body layer that follows the
#: neck on screen (as the meshwarp animator does): the avatar's neck below the jaw is seen in the photo
#: only in part, and rendered over the real one it cost 5 dB outside the face (issue 13)
NECK_FADE_M = (-0.07, -0.13)


def _reach(size: int) -> float:
    """How far (pixels) the photo's detail around the head reaches past the avatar's outline: 1/24 of the width."""
    return max(2.0, size / 24)


def _fit_at_rest(moved_px: float, size: int) -> float:
    """How much of the photo's detail around the head still fits once the head has moved ``moved_px`` on screen
    from rest: 1 at rest, 0 from one :func:`_reach` on (a halo of the old outline stays behind otherwise)."""
    return float(np.clip(1.0 - moved_px / _reach(size), 0.0, 1.0))


class _PortraitScene:
    """The avatar in its photo: the :class:`~vasa3d.render.composite.PortraitBackdrop` and the avatar's
    neck, faded out toward the body and followed by the photo's body layer."""

    def __init__(self, avatar, size: int, backend: str):
        from vasa3d.pipeline import view_camera
        from vasa3d.render import rasterize
        from vasa3d.render.composite import PortraitBackdrop

        if not avatar.portrait:
            raise InputError("--background portrait needs an avatar that carries its photo; this one was made "
                             "before vasa3d stored it: run 'vasa3d create' again, or give the photo as "
                             "--background PHOTO")
        regions = avatar.head.face_regions.to(avatar.parent.device)[avatar.parent]
        self.neck = torch.nonzero(torch.isin(regions, avatar._neck_region_ids)).flatten()
        with torch.no_grad():
            rest = avatar(torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim), vas=False)[0]
            if len(self.neck) == 0:  # a head without a neck: the whole avatar carries the body
                self.neck = torch.arange(avatar.n_gaussians)
                self.keep = torch.ones(0)
            else:
                hi, lo = NECK_FADE_M
                self.keep = ((rest.means[self.neck, 1] - lo) / (hi - lo)).clamp(0.0, 1.0)
            self.neck_rest = rest.means[self.neck].mean(0)
            cam = view_camera(avatar.camera, avatar.head_center.detach().reshape(3), 0.0, 0.0, size)
            # the hair shell carries the hair: the photo's person beyond it above the neck is the head's, and the
            # photo's hair detail rides on it (a bare skull leaves the photo's hair whole to the body layer)
            shell = bool(len(self.keep) and getattr(avatar.head, "n_hair", 0))
            head_row = None
            self.head_points = self.head_uv = None
            if shell:  # the row where the neck starts to fade, at rest (median of the fade's top band)
                top = (self.keep < 0.999) & (self.keep > 0.8)
                if top.any():
                    head_row = float(cam.project(rest.means[self.neck[top]])[0][:, 1].median())
            zd, zp = torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim)
            rest = avatar(zd, zp)[0]
            if head_row is not None:
                # the head's points (every few of the Gaussians off the neck) and where they are on screen at rest:
                # how far they move says how much of the photo's person around the head still fits (``background``)
                off_neck = torch.ones(avatar.n_gaussians, dtype=torch.bool, device=rest.means.device)
                off_neck[self.neck] = False
                self.head_points = torch.nonzero(off_neck).flatten()[::7]
                if len(self.head_points):
                    self.head_uv = cam.project(rest.means[self.head_points])[0]
            rest_out = rasterize(self.fade(rest), cam, size, size, backend=backend)
            alpha = rest_out.alpha[0, ..., 0].numpy()
            cover = hair = None
            if shell:  # the hair shell's Gaussians alone
                from vasa3d.head.hair import hair_faces

                rest_verts = avatar.head(avatar.head_params(zd, zp))[0].detach()
                hair = hair_faces(avatar.head, rest_verts)
                logits = rest.opacity_logits.clone()
                logits[~torch.as_tensor(hair)[avatar.parent.cpu()].to(logits.device)] = -30.0
                cover = rasterize(dataclasses.replace(rest, opacity_logits=logits), cam, size, size,
                                  backend=backend).alpha[0, ..., 0].numpy()
        self.backdrop = PortraitBackdrop(avatar.portrait["image"].numpy(), avatar.portrait["mask"].numpy(),
                                         alpha, size, cover, head_row)
        self.hair = None
        if hair is not None:  # the hair shell carries the hair: the photo's detail goes onto it
            from vasa3d.render.composite import composite

            rest_frame = composite(rest_out.color[0].numpy(), rest_out.alpha[0].numpy(), self.backdrop.layer())
            self.hair = _HairDetail(avatar, rest_frame, cam, size, rest_verts, hair)

    def fade(self, gaussians):
        """``gaussians`` with the neck's opacities scaled down toward the body."""
        if len(self.keep) == 0:
            return gaussians
        logits = gaussians.opacity_logits.clone()
        faded = torch.sigmoid(logits[self.neck]) * self.keep
        logits[self.neck] = torch.logit(faded.clamp(1e-6, 1.0 - 1e-6))
        return dataclasses.replace(gaussians, opacity_logits=logits)

    def background(self, gaussians, camera) -> np.ndarray:
        """The backdrop with the body moved as the neck of ``gaussians`` moved on screen from rest."""
        uv, _ = camera.project(torch.stack([self.neck_rest, gaussians.means[self.neck].mean(0)]))
        dx, dy = (uv[1] - uv[0]).tolist()
        keep = 1.0
        if self.head_uv is not None:  # the photo's hair tips and ear edges fade out as the head moves off them
            moved = (camera.project(gaussians.means[self.head_points])[0] - self.head_uv).norm(dim=1).median()
            keep = _fit_at_rest(float(moved), self.backdrop.size)
        return self.backdrop.layer((dx, dy), keep)


class _HairDetail:
    """What the frame at rest misses of the photo on the hair shell (the photo minus the rest frame, where
    the shell's triangles show), carried by the shell to every frame: at the portrait's view and at rest the
    hair is the photo's, strand for strand and up to its soft edge, and it turns with the head as the shell
    does.  Only in its photo (``--background portrait``): elsewhere the photo's light and detail have no place."""

    def __init__(self, avatar, rest_frame: np.ndarray, camera, size: int, verts, hair_faces: np.ndarray):
        """``verts (V, 3)``: the head at rest; ``hair_faces (F,)``: :func:`vasa3d.head.hair.hair_faces`."""
        import cv2
        from scipy import ndimage

        from vasa3d.train.regions import mesh_raster

        self.avatar, self.size = avatar, size
        image = avatar.portrait["image"].numpy()
        photo = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if image.shape[0] >= size
                           else cv2.INTER_CUBIC).astype(np.float32) / 255.0
        head = avatar.head
        self.faces = head.faces.cpu().numpy()
        self.hair_faces = hair_faces
        self.hair_vertices = np.unique(self.faces[self.hair_faces])
        self.reach = _reach(size)  # the avatar's soft edge reaches past the shell's outline
        raster = mesh_raster(verts, head.faces, camera)
        on_hair = self._on_hair(raster)
        near = (ndimage.distance_transform_edt(~on_hair) <= self.reach) & ((raster.tri_id < 0) | on_hair)
        # toward the face the detail fades in over size/40 px: cut off at the shell's edge, the photo's fringe
        # ended in a hard arc across the avatar's forehead
        face = (raster.tri_id >= 0) & ~on_hair
        feather = np.clip(ndimage.distance_transform_edt(~face) / max(2.0, size / 40), 0.0, 1.0) if face.any() \
            else np.ones(face.shape)
        # and toward the frame's edge, beyond which the photo saw nothing: a head moving down brought the
        # shell's part above the frame into view with the edge row's detail smeared down it
        edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32) + 0.5
        feather = feather * np.clip(np.minimum(edge[:, None], edge[None, :]) / max(2.0, size / 40), 0.0, 1.0)
        self.residual = np.where(near[..., None], photo - rest_frame.astype(np.float32) / 255.0, 0.0)
        self.residual = (self.residual * feather[..., None]).astype(np.float32)
        self.rest_uv = camera.project(verts)[0].numpy().astype(np.float32)  # (V, 2) pixels at rest

    def _on_hair(self, raster) -> np.ndarray:
        covered = raster.tri_id >= 0
        on_hair = np.zeros_like(covered)
        on_hair[covered] = self.hair_faces[raster.tri_id[covered]]
        return on_hair

    def add(self, frame: np.ndarray, z_dyn, z_pose, camera) -> np.ndarray:
        """``frame (S, S, 3) uint8`` with the detail added where the posed hair shell shows."""
        from scipy import ndimage

        from vasa3d.animate.raster import interpolate, sample_bilinear
        from vasa3d.train.regions import mesh_raster

        head = self.avatar.head
        verts = head(self.avatar.head_params(z_dyn, z_pose))[0].detach()
        camera = camera.to("cpu")
        raster = mesh_raster(verts, head.faces, camera)
        on_hair = self._on_hair(raster)
        if not on_hair.any():
            return frame
        uv = interpolate(self.rest_uv, self.faces, raster)
        # a pixel just outside the shell reads the photo as far beyond the nearest shell pixel's point
        # (within the hair's bounding box grown by the reach: the distance transform is the cost)
        ys, xs = np.nonzero(on_hair)
        pad = int(np.ceil(self.reach)) + 1
        y0, x0 = max(0, ys.min() - pad), max(0, xs.min() - pad)
        y1, x1 = min(self.size, ys.max() + pad + 1), min(self.size, xs.max() + pad + 1)
        box = on_hair[y0:y1, x0:x1]
        dist, (iy, ix) = ndimage.distance_transform_edt(~box, return_indices=True)
        near = (dist <= self.reach) & ((raster.tri_id[y0:y1, x0:x1] < 0) | box)  # not onto the face beside it
        rows, cols = np.nonzero(near)
        iy, ix = iy[near], ix[near]
        at = uv[iy + y0, ix + x0] + np.stack([cols - ix, rows - iy], 1)
        rows, cols = rows + y0, cols + x0
        detail = sample_bilinear(self.residual, at[None].astype(np.float32))[0]
        detail[((at < 0) | (at > self.size - 1)).any(axis=1)] = 0.0  # what the photo did not see
        # beyond the shell the photo's soft hair edge fits only near rest: it fades out as the shell's outline
        # moves away from where it was (a halo of old edge around a turned head otherwise)
        moved = np.abs(camera.project(verts)[0].numpy() - self.rest_uv)[self.hair_vertices]
        outer = ~on_hair[rows, cols]
        detail[outer] *= _fit_at_rest(float(np.median(moved.max(1))), self.size)
        out = frame.copy()
        out[rows, cols] = np.clip(frame[rows, cols].astype(np.float32) + 255.0 * detail + 0.5, 0, 255).astype(np.uint8)
        return out


def render_frames(avatar, motion: MotionLatent, config: RenderConfig | None = None,
                  quiet: bool = False) -> Iterator[np.ndarray]:
    """Yield one uint8 frame per motion frame: ``(S, S, 3)``, or ``(S, S, 4)`` RGBA for a transparent background."""
    from vasa3d.pipeline import camera_track
    from vasa3d.progress import track
    from vasa3d.render import rasterize
    from vasa3d.render.composite import composite, load_background_image

    config = config or RenderConfig()
    spec = check_settings(config)
    size = int(config.size)
    check_motion_fits(motion, avatar, "the motion")
    cameras = camera_track(avatar, config.camera, len(motion), motion.fps, size)
    scene = None
    if spec.kind == "colour":
        background: np.ndarray | None = np.asarray(spec.colour, np.float32)
    elif spec.kind == "image":
        background = load_background_image(spec.path, size)
    elif spec.kind == "portrait":
        scene = _PortraitScene(avatar, size, config.backend)
    else:
        background = None
    z_dyn = torch.from_numpy(motion.z_dyn)
    z_pose = torch.from_numpy(motion.z_pose)
    black = torch.zeros(3)
    with torch.no_grad():
        for t in track(range(len(motion)), "rendering", quiet=quiet):
            gaussians = avatar(z_dyn[t:t + 1], z_pose[t:t + 1])[0]
            if scene is not None:
                gaussians = scene.fade(gaussians)
                background = scene.background(gaussians, cameras[t])
            out = rasterize(gaussians, cameras[t], size, size, background=black, backend=config.backend)
            frame = composite(out.color[0].numpy(), out.alpha[0].numpy(), background)
            if scene is not None and scene.hair is not None:
                frame = scene.hair.add(frame, z_dyn[t:t + 1], z_pose[t:t + 1], cameras[t])
            yield frame


def write_frames(output: Path, frames, fps: float, audio=None, sr: int = 16000) -> Path:
    """Write frames by the output's kind: .mp4 (H.264 + AAC), .webm (VP9 + Opus; with alpha for RGBA frames)
    or a folder of PNGs (no audio).  ``audio``: mono samples at ``sr`` Hz, a function returning chunks of
    them, or None."""
    from vasa3d.io import write_video
    from vasa3d.io.alpha_video import write_png_sequence, write_webm_alpha

    suffix = output.suffix.lower()
    if suffix == ".mp4":
        return write_video(output, frames, fps, audio, sr)
    if suffix == ".webm":
        if callable(audio):  # chunks, as speak streams them
            audio = np.concatenate([np.asarray(c, np.float32) for c in audio()])
        return write_webm_alpha(output, _as_rgba(frames), fps, audio, sr)
    if audio is not None:
        log.info("note: a PNG sequence has no sound; the audio is not written")
    return write_png_sequence(output, frames)


def _as_rgba(frames):
    for frame in frames:
        if frame.shape[2] == 3:
            frame = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
        yield frame


# --------------------------------------------------------------------------- render
def render(avatar_path: str | os.PathLike, motion_path: str | os.PathLike, output: str | os.PathLike,
           audio: str | os.PathLike | None = None, config: RenderConfig | None = None,
           quiet: bool = False, head_model: str | os.PathLike | None = None) -> Path:
    """Avatar + motion file (.npz, ARKit .csv or .json) -> video at the motion's frame rate.

    Args:
        avatar_path: a ``.vasa3d`` file.
        motion_path: motion from ``vasa3d motion`` (``.npz``), a Live Link Face CSV or ARKit JSON.
        output: ``.mp4``; ``.webm``; for ``background="transparent"`` a ``.webm`` with alpha or a folder.
        audio: sound to mux in (any file PyAV reads), or None.
        config: :class:`RenderConfig`.
        head_model: the user's FLAME model file, for an avatar made with ``--head flame:PATH``.
    """
    from vasa3d.io import load_audio, load_avatar
    from vasa3d.motion.files import read_motion

    config = config or RenderConfig()
    spec = check_settings(config)
    out = check_video_output(output, spec, [avatar_path, motion_path, audio, spec.path, head_model])
    motion = read_motion(motion_path)
    samples, sr = load_audio(audio) if audio else (None, 16000)
    avatar = load_avatar(avatar_path, head_model=head_model)
    check_motion_fits(motion, avatar, str(motion_path))
    log.info("rendering %d frames (%.1f s at %g fps)", len(motion), motion.duration, motion.fps)
    return write_frames(out, render_frames(avatar, motion, config, quiet=quiet), motion.fps, samples, sr)


# --------------------------------------------------------------------------- reenact
def retarget(motion: MotionLatent) -> MotionLatent:
    """Tracked motion made fit for another head: the driver's head pose becomes a change from its
    mean pose, expressions are kept.

    Tracking gives the driver's head pose relative to the driver's camera, so a portrait seen
    slightly from above reads as a head pitched by 15 degrees for the whole video; the avatar is
    rendered from its own photo's view, where its rest pose is zero.  Rotation: ``R_ref^T R_t``,
    the turn in the driver's head frame away from its mean orientation; position: the offset from
    its median, in that same frame.
    """
    from scipy.spatial.transform import Rotation

    z_pose = motion.z_pose.astype(np.float64)
    rot = Rotation.from_rotvec(z_pose[:, :3])
    ref = rot.mean()
    z_pose[:, :3] = (ref.inv() * rot).as_rotvec()
    z_pose[:, 3:6] = ref.inv().apply(z_pose[:, 3:6] - np.median(z_pose[:, 3:6], axis=0))
    return MotionLatent(motion.z_dyn, z_pose.astype(motion.z_pose.dtype), motion.fps, motion.schema,
                        motion.dyn_names, motion.pose_names)


def _side_by_side(driver: Iterator[np.ndarray], frames: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    import cv2

    last = None
    for frame in frames:
        d = next(driver, None)
        last = d if d is not None else last
        h, w = last.shape[:2]
        width = max(2, round(w * size / h))
        d = cv2.resize(last, (width - width % 2, size), interpolation=cv2.INTER_AREA)
        if frame.shape[2] == 4:
            d = np.concatenate([d, np.full((size, d.shape[1], 1), 255, np.uint8)], axis=2)
        yield np.concatenate([d, frame], axis=1)


def reenact(avatar_path: str | os.PathLike, video_path: str | os.PathLike, output: str | os.PathLike,
            config: RenderConfig | None = None, side_by_side: bool = False, quiet: bool = False,
            head_model: str | os.PathLike | None = None) -> Path:
    """Driving video + avatar -> the avatar doing what the driver's face does, with the driver's sound.

    The driver's face is tracked by :func:`vasa3d.face.track_video` (ARKit weights and head pose
    per frame); any person can drive any avatar.

    Args:
        avatar_path: a ``.vasa3d`` file.
        video_path: a video with one visible face (mp4, mov, webm...).
        output: as for :func:`render`.
        config: :class:`RenderConfig`.
        side_by_side: put the driving video (scaled to the output height) left of the avatar.
        head_model: the user's FLAME model file, for an avatar made with ``--head flame:PATH``.
    """
    from vasa3d.face.track import read_video, track_video
    from vasa3d.io import load_audio, load_avatar

    config = config or RenderConfig()
    spec = check_settings(config)
    out = check_video_output(output, spec, [avatar_path, video_path, spec.path, head_model])
    avatar = load_avatar(avatar_path, head_model=head_model)
    motion = retarget(track_video(video_path, quiet=quiet))
    try:
        samples, sr = load_audio(video_path)
    except InputError:
        samples, sr = None, 16000
        log.info("note: %s has no usable sound; the video is silent", video_path)
    frames = render_frames(avatar, motion, config, quiet=quiet)
    if side_by_side:
        driver, _, _ = read_video(video_path)
        frames = _side_by_side(driver, frames, int(config.size))
    return write_frames(out, frames, motion.fps, samples, sr)


__all__ = ["BACKGROUND_HELP", "RenderConfig", "reenact", "render", "render_frames", "retarget", "write_frames"]
