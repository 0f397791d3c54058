"""The two jobs a user runs, wired from the rooms: ``create`` and ``speak``.

Each step is one call into its room; this module holds no maths.  Every
input is checked before any long work starts, outputs appear only when
complete, and ``create`` keeps its work folder (``AVATAR.work/``) until it
succeeds, so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from vasa3d.config import check_size
from vasa3d.errors import InputError
from vasa3d.io import check_output_path, load_audio, load_avatar, load_image, save_avatar
from vasa3d.io.media import audio_info, iter_audio
from vasa3d.io.paths import FolderLock, write_bytes_atomic
from vasa3d.progress import stage
from vasa3d.render.camera import Camera

DEMO_TEXT = "Hello! I am a talking head made from a single photo. Watch my lips move as I speak."
SILENCE_PEAK = 1e-3


@dataclass
class CreateConfig:
    """Settings of ``vasa3d create``."""

    preset: Literal["demo", "cpu-quick", "gpu", "paper"] = "cpu-quick"
    """Training preset: demo (a few minutes on a laptop CPU), cpu-quick, gpu (512 px, CUDA) or paper (200K iterations)."""
    frames: int = 0
    """Synthetic training frames to render from the portrait (0: the preset's choice)."""
    iterations: int = 0
    """Training iterations (0: the preset's choice)."""
    seed: int = 0
    """Random seed of the synthetic motion, the split and the training."""
    motion: Literal["auto", "random", "talking", "mixed"] = "auto"
    """Motion of the synthetic frames: mixed (talking blocks from built-in voices and wide random blocks), random,
    talking; auto: mixed, except random for the demo preset (its 200 frames need every pose they can get)."""
    keep_work: bool = False
    """Keep AVATAR.work/ (the synthetic dataset and checkpoints) after success."""
    vgg_weights: str = ""
    """VGG16 ImageNet weights (torchvision layout, .pth or .safetensors): LPIPS instead of the EfficientNet
    stand-in, in presets with a perceptual loss (gpu, paper)."""
    lpips_weights: str = ""
    """LPIPS linear-layer weights (lin0..lin4) on top of --vgg-weights; without them the layers are averaged."""
    sds_weights: str = ""
    """Folder with Stable Diffusion 2.1 weights (diffusers layout): adds the SDS loss (see docs/training.md)."""
    head: str = "builtin"
    """Head model the Gaussians are bound to: builtin, or flame:PATH (your FLAME 2020/2023 model .pkl; the avatar
    records its SHA-256, and speak then needs --head-model PATH). See docs/head.md."""


@dataclass
class SpeakConfig:
    """Settings of ``vasa3d speak``."""

    camera: str = "front"
    """front (the portrait's view), orbit (circles +-30 degrees of yaw) or yaw=DEG,pitch=DEG."""
    size: int = 512
    """Output video width and height in pixels."""
    backend: str = "auto"
    """Rasterizer: auto, cpu, torch or gsplat."""
    background: str = "black"
    """black, white, #RRGGBB, an image file, portrait or transparent (.webm with alpha, or a folder of PNGs)."""
    seed: int = 0
    """Random seed of the motion generator (blinks, head motion)."""
    transcript: str = ""
    """What is said, if known: forced alignment then gives exact lip closures."""
    emotion: Literal["neutral", "happy", "sad", "angry", "surprised"] = "neutral"
    """Emotion offset added to the face and head motion."""
    emotion_intensity: float = 1.0
    """Strength of the emotion offset, 0 to 1."""
    motion_intensity: float = 1.0
    """Scale of head motion and expressiveness (0.5: calmer, 1.5: livelier)."""
    head_distance: float = 1.0
    """How far the head seems (0.05 to 20): 2 is twice as far (half the size), 0.5 twice as near."""
    gaze: str = "0,0"
    """Where the eyes look, relative to the head: YAW,PITCH in degrees (yaw toward the subject's left, pitch up)."""
    generator: Literal["phonetic", "loudness", "diffusion"] = "phonetic"
    """Audio-to-motion generator: phonetic (offline default), loudness, or diffusion (needs diffusion_model)."""
    diffusion_model: str = ""
    """Model file of the diffusion generator (made by 'vasa3d train-audio2motion')."""
    speech_encoder: str = ""
    """wav2vec2 / HuBERT folder, for a diffusion model trained on those features (see docs/motion.md)."""
    head_model: str = ""
    """Your FLAME model file, for an avatar made with --head flame:PATH (it must be that very file)."""


# --------------------------------------------------------------------------- create
def create(portrait: str | Path | np.ndarray, output: str | Path, config: CreateConfig | None = None,
           quiet: bool = False, log=print) -> Path:
    """Portrait photo -> trained ``.vasa3d`` avatar file.

    Steps: face analysis, head fitting, synthetic frames from the portrait
    animator, Gaussian avatar training, export.
    """
    config = config or CreateConfig()
    if config.frames < 0 or config.iterations < 0:
        raise InputError("--frames and --iterations must be 0 (the preset's choice) or more")
    from vasa3d.head import parse_head_spec

    head_config, head_file = parse_head_spec(config.head)
    output = check_output_path(output, [None if isinstance(portrait, np.ndarray) else portrait,
                                        config.vgg_weights, config.lpips_weights, config.sds_weights, head_file],
                               (".vasa3d",), "avatar file")
    image = portrait if isinstance(portrait, np.ndarray) else load_image(portrait)

    from vasa3d.animate import MeshWarpAnimator, mixed_motion, random_motion, synthesize_dataset, talking_motion
    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import avatar_head, build_head, fit_portrait
    from vasa3d.train import TrainConfig, Trainer

    train_cfg = TrainConfig.preset(config.preset)
    if config.iterations:
        train_cfg = dataclasses.replace(train_cfg, iterations=config.iterations)
    train_cfg = dataclasses.replace(train_cfg, vgg_weights=config.vgg_weights, lpips_weights=config.lpips_weights,
                                    sds_weights=config.sds_weights)
    for note in train_cfg.check_plugins():  # before any long work
        log(f"note: {note}")
    torch.manual_seed(config.seed)

    with stage("finding the face and fitting the head", quiet=quiet):
        analysis = analyze_portrait(image, size=train_cfg.resolution)
        head = build_head(None)  # the animator's head: the training frames' cameras come from its fit
        fit = fit_portrait(analysis, head)
        bound = avatar_head(analysis.landmarks, head, fit, head_config, head_file)
    for warning in analysis.warnings:
        log(f"note: {warning}")
    log(f"head fitted: mean landmark error {100 * fit.landmark_error:.2f}% of the eye distance")
    if bound.latent_map is not None:
        log(f"FLAME head fitted in that camera: mean landmark error {100 * bound.fit.landmark_error:.2f}% of the eye "
            f"distance; ARKit-to-FLAME map residual {100 * bound.map_residual:.0f}% of the ARKit landmark motion")

    frames = config.frames or train_cfg.dataset_frames
    kind = config.motion if config.motion != "auto" else ("random" if config.preset == "demo" else "mixed")
    run = {"portrait": image_digest(image), "preset": config.preset, "frames": frames, "motion": kind,
           "seed": config.seed, "iterations": train_cfg.iterations, "resolution": train_cfg.resolution}
    run["head"] = bound.head.config()  # a folder left by another head (or built-in head version) is not resumed
    work = output.with_name(output.name + ".work")
    with FolderLock(work, "work folder"):  # a second run on the same output stops here
        remove_leftovers(output)
        check_work_record(work, run)
        make_motion = {"random": random_motion, "talking": talking_motion, "mixed": mixed_motion}[kind]
        motion = make_motion(frames, seed=config.seed)
        animator = MeshWarpAnimator(analysis, fit, head)
        dataset = synthesize_dataset(animator, motion, fit.camera, work / "dataset", seed=config.seed, quiet=quiet,
                                     source={"portrait_sha256": run["portrait"]})

        avatar = GaussianAvatar.from_portrait(bound.head, bound.fit, analysis, AvatarConfig.preset(config.preset),
                                              latent_map=bound.latent_map)
        fresh = None
        if train_cfg.fresh_frames:  # training frames drawn new as it goes; the dataset gives the held-out ones
            from vasa3d.animate.fresh import FreshFrames

            fresh = FreshFrames(animator, fit.camera, seed=config.seed, motion=kind, workers=train_cfg.fresh_workers)
        avatar = Trainer(avatar, dataset, train_cfg, log_dir=work / "train", quiet=quiet, fresh=fresh,
                         trained_on={"portrait": run["portrait"], "preset": config.preset}).run()
        from vasa3d.face.backdrop import portrait_tensors

        avatar.portrait = portrait_tensors(image, analysis)  # for --background portrait
        save_avatar(output, avatar)
        if not config.keep_work:
            discard_folder(work)
    return output


def discard_folder(folder: Path) -> None:
    """Delete ``folder`` so that a kill at any moment leaves it whole or gone: it is first renamed
    (atomically) to ``.NAME.deleting-XXXXXXXX`` beside it, which :func:`remove_leftovers` finishes off."""
    import tempfile

    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.deleting-", dir=folder.parent))
    os.replace(folder, trash)  # an empty folder is replaced by a rename
    shutil.rmtree(trash, ignore_errors=True)


def remove_leftovers(output: Path) -> None:
    """Remove what a killed ``create`` on ``output`` can leave beside it: a half-written temporary avatar
    (``atomic_output``'s ``.NAME.XXXXXXXX.part.vasa3d``) and a work folder it was deleting.
    Called with the work folder locked, so no other ``create`` on ``output`` is running."""
    import re

    name = re.escape(output.name)  # not a glob: the output's name may hold glob characters
    trash = re.compile(rf"\.{name}\.work\.deleting-[a-z0-9_]{{8}}")
    temp = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.part{re.escape(output.suffix)}")  # mkstemp's 8 characters
    for p in output.parent.iterdir():
        if trash.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif temp.fullmatch(p.name) and p.is_file() and not p.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def image_digest(image: np.ndarray) -> str:
    """A short SHA-256 of a decoded image's pixels and shape (what a work folder was made from)."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:16]


def check_work_record(work: Path, run: dict) -> None:
    """Refuse a work folder left by a run on another portrait or settings; record ``run`` in a new one.

    ``work/run.json`` says what the folder's dataset and checkpoints were made from, so an
    interrupted ``create`` for photo A is never resumed by ``create`` for photo B.
    """
    record = work / "run.json"
    if record.exists():
        try:
            old = json.loads(record.read_text())
        except (OSError, ValueError):
            old = None
        if old != run:
            changed = sorted(k for k in run if not isinstance(old, dict) or old.get(k) != run[k])
            what = ", ".join("the portrait" if k == "portrait" else f"--{k}" for k in changed) or "its record"
            raise InputError(f"{work} holds an unfinished run for another portrait or settings (differs in {what}); "
                             f"delete {work} to start over, or rerun that command to finish it")
        return
    if any(p.name not in (".lock",) for p in work.iterdir()):
        raise InputError(f"{work} holds files from an unknown run; delete {work} to start over")
    write_bytes_atomic(record, (json.dumps(run, indent=1) + "\n").encode())


# --------------------------------------------------------------------------- speak
def parse_camera(spec: str) -> tuple[str, float, float]:
    """``front`` | ``orbit`` | ``yaw=DEG,pitch=DEG`` -> (kind, yaw, pitch)."""
    spec = spec.strip().lower()
    if spec in ("front", "orbit"):
        return spec, 0.0, 0.0
    values = {"yaw": 0.0, "pitch": 0.0}
    try:
        for part in spec.split(","):
            key, value = part.split("=")
            if key.strip() not in values:
                raise ValueError(key)
            values[key.strip()] = float(value)
            if not math.isfinite(values[key.strip()]):
                raise ValueError(value)
    except ValueError:
        raise InputError(f"bad --camera {spec!r}: use front, orbit or yaw=DEG,pitch=DEG with finite degrees "
                         "(e.g. yaw=30,pitch=-10)") from None
    if abs(values["yaw"]) > 360 or abs(values["pitch"]) > 85:
        raise InputError(f"bad --camera {spec!r}: yaw must be within +-360 degrees and pitch within +-85")
    return "fixed", values["yaw"], values["pitch"]


def parse_gaze(spec: str) -> tuple[float, float]:
    """``YAW,PITCH`` (degrees) -> (yaw, pitch); the range is checked with the other motion settings."""
    try:
        yaw, pitch = (float(v) for v in str(spec).split(","))
        if not math.isfinite(yaw + pitch):
            raise ValueError(spec)
    except ValueError:
        raise InputError(f"bad --gaze {spec!r}: use YAW,PITCH in degrees (e.g. 15,-5: to the subject's left, "
                         "a little down)") from None
    return yaw, pitch


def view_camera(base: Camera, target: torch.Tensor, yaw_deg: float, pitch_deg: float, size: int,
                distance: float = 1.0) -> Camera:
    """``base`` (the portrait's view) swung around ``target`` by yaw then pitch, at ``size`` pixels;
    ``distance`` scales the camera's distance to ``target`` (2: twice as far, the head looks half as big)."""
    eye = (base.position.reshape(3) - target) * float(distance)
    cy, sy = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    yaw_m = torch.tensor([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    pitch_m = torch.tensor([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    eye = yaw_m @ (pitch_m @ eye)
    K = base.K.reshape(3, 3).clone()
    K[:2] *= size / base.width
    return Camera.look_at(eye + target, target, (0.0, 1.0, 0.0), size, size, K=K)


class CameraTrack(Sequence):
    """The camera of each of ``frames`` frames, made when asked for (an hour of orbit is 90,000 cameras)."""

    def __init__(self, avatar, spec: str, frames: int, fps: float, size: int):
        self.kind, yaw, pitch = parse_camera(spec)
        self.frames, self.fps, self.size = int(frames), float(fps), int(size)
        self.base = avatar.camera
        self.target = avatar.head_center.detach().reshape(3)
        self.fixed = view_camera(self.base, self.target, yaw, pitch, size) if self.kind != "orbit" else None

    def __len__(self) -> int:
        return self.frames

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.frames))]
        if not -self.frames <= i < self.frames:
            raise IndexError(i)
        if self.fixed is not None:
            return self.fixed
        i %= self.frames  # one full swing to +-30 degrees and back every 8 s
        return view_camera(self.base, self.target, 30.0 * math.sin(2 * math.pi * i / (8.0 * self.fps)), 0.0, self.size)


def camera_track(avatar, spec: str, frames: int, fps: float, size: int) -> Sequence[Camera]:
    return CameraTrack(avatar, spec, frames, fps, size)


def speak(avatar_path: str | Path, audio_path: str | Path, output: str | Path, config: SpeakConfig | None = None,
          quiet: bool = False) -> Path:
    """Avatar + speech -> talking-head mp4 (H.264 + AAC) at 25 fps."""
    config = config or SpeakConfig()
    from vasa3d.drive import check_video_output, write_frames
    from vasa3d.render.composite import parse_background

    background = parse_background(config.background)
    output = check_video_output(output, background, [avatar_path, audio_path, config.diffusion_model,
                                                     config.speech_encoder, background.path, config.head_model])
    from vasa3d.io.avatar_file import check_head_model

    check_head_model(avatar_path, config.head_model or None)
    parse_camera(config.camera)
    check_size(config.size)
    from vasa3d.motion import Audio2Motion, MotionConfig
    from vasa3d.motion.generate import concat_latents

    generator = Audio2Motion(MotionConfig(
        seed=config.seed, transcript=config.transcript or None, emotion=config.emotion,
        emotion_intensity=config.emotion_intensity, motion_intensity=config.motion_intensity,
        head_distance=config.head_distance, gaze=parse_gaze(config.gaze),
        generator=config.generator, diffusion_model=config.diffusion_model or None,
        speech_encoder=config.speech_encoder))  # checks the settings and loads a model before any work
    sr = 16000
    audio_info(audio_path)  # rate, channels and length from the header, before decoding anything
    if config.transcript:  # forced alignment needs the whole clip at once
        samples, sr = load_audio(audio_path, sr)
        peak = float(np.abs(samples).max())
        motion = generator(samples, sr) if peak >= SILENCE_PEAK else None
        del samples
    else:  # chunk by chunk: memory does not grow with the recording's length
        heard: dict = {}
        stream = generator.stream(sr)
        parts = [stream.push(chunk) for chunk in iter_audio(audio_path, sr, info=heard)]
        motion = concat_latents(parts + [stream.flush()], generator.config.fps)
        del parts  # the joined copy is all the rendering needs (the chunks would double it: 21 MB an hour)
        peak = heard["peak"]
    if peak < SILENCE_PEAK:
        raise InputError(f"{audio_path} is silent; give a recording with speech in it")
    avatar = load_avatar(avatar_path, head_model=config.head_model or None)
    frames = render_motion(avatar, motion, config, quiet=quiet)
    return write_frames(output, frames, motion.fps, lambda: iter_audio(audio_path, sr), sr)


def render_motion(avatar, motion, config: SpeakConfig, quiet: bool = False):
    """Yield one uint8 ``(S, S, 3)`` frame per motion frame (``(S, S, 4)`` RGBA for a transparent background)."""
    from vasa3d.drive import RenderConfig, render_frames

    yield from render_frames(avatar, motion, RenderConfig(camera=config.camera, size=config.size,
                                                          backend=config.backend, background=config.background),
                             quiet=quiet)


# --------------------------------------------------------------------------- demo
def demo(out_dir: str | Path = "out/demo", preset: str = "demo", quiet: bool = False, log=print) -> dict[str, Path]:
    """The astronaut portrait + a synthesized sentence -> avatar, front.mp4 and orbit.mp4 (on the portrait's
    own background)."""
    from skimage import data

    from vasa3d.motion.synth import synthesize

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    speech = synthesize(DEMO_TEXT, voice="male")
    wav = out / "speech.wav"
    speech.save_wav(wav)
    log(f"speech: {speech.duration:.1f} s of synthesized speech -> {wav}")
    avatar = out / "avatar.vasa3d"
    if avatar.exists():
        log(f"reusing {avatar} (delete it to train again)")
    else:
        create(data.astronaut(), avatar, CreateConfig(preset=preset), quiet=quiet, log=log)  # type: ignore[arg-type]
    results = {"avatar": avatar, "speech": wav}
    for name in ("front", "orbit"):
        # in its photo (the shoulders, the suit and the wall), not floating on black
        results[name] = speak(avatar, wav, out / f"{name}.mp4",
                              SpeakConfig(camera=name, transcript=DEMO_TEXT, background="portrait"), quiet=quiet)
        log(f"wrote {results[name]}")
    return results

