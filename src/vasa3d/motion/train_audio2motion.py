"""Training the diffusion audio-to-motion generator on (audio, motion) pairs.

Pairs come from talking videos (the face tracker gives the motion, the video's sound the audio),
or from any audio with motion made for it (the tests use synthesized speech and the phonetic
generator's motion). Training samples random windows, with checkpoints and resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.errors import InputError, MissingAssetError
from vasa3d.motion.config import DiffusionConfig, TrainAudio2MotionConfig
from vasa3d.motion.diffusion import CONTROL_DIM, MOTION_DIM, DiffusionModel, feature_tag
from vasa3d.motion.latent import MotionLatent
from vasa3d.motion.melspec import logmel_frames
from vasa3d.motion.speech_encoder import EncoderIdentity, SpeechEncoder, speech_frames

#: the z_dyn channels of the mouth, for evaluation
MOUTH_CHANNELS = tuple(ARKIT_INDEX[n] for n in (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "mouthPressLeft", "mouthPressRight"))
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


@dataclass
class MotionPair:
    """One clip: ``audio (T, audio_dim)`` features per frame (160 log-mel numbers, or the speech
    encoder's hidden size), ``motion (T, 59)`` [z_dyn, z_pose], ``controls (9,)``; ``features`` names
    the audio features (:func:`vasa3d.motion.diffusion.feature_tag`), ``encoder_identity`` their encoder."""

    audio: np.ndarray
    motion: np.ndarray
    controls: np.ndarray
    features: str = "logmel"
    encoder_identity: EncoderIdentity | None = None


def make_pair(samples16k: np.ndarray, motion: MotionLatent, controls: np.ndarray | None = None,
              model_config: DiffusionConfig | None = None, encoder: SpeechEncoder | None = None) -> MotionPair:
    """A training pair from 16 kHz audio and the motion that goes with it (same clip, same start).

    The audio features are those of ``model_config`` (log-mel by default); wav2vec2 features
    need ``encoder``.
    """
    if motion.z_dyn.shape[1] != 52 or motion.z_pose.shape[1] != 7:
        raise InputError(f"training needs '{'arkit52+pose'}' motion, got schema '{motion.schema}'")
    cfg = (model_config or DiffusionConfig()).validate()
    identity = None
    if cfg.features == "wav2vec2":
        if encoder is None:
            raise MissingAssetError("training on wav2vec2 features needs a speech encoder: pass --speech-encoder DIR "
                                    "(a wav2vec2 / HuBERT save_pretrained folder)")
        audio = speech_frames(samples16k, len(motion), encoder, cfg.speech_layers, cfg.speech_context_s, motion.fps,
                              batch=16)
        identity = encoder.identity
    else:
        audio = logmel_frames(samples16k, len(motion), motion.fps)
    m = np.concatenate([motion.z_dyn, motion.z_pose], axis=1).astype(np.float32)
    c = np.zeros(CONTROL_DIM, np.float32) if controls is None else np.asarray(controls, np.float32)
    return MotionPair(audio, m, c, feature_tag(cfg, identity), identity)


def pairs_from_videos(folder: str | os.PathLike, quiet: bool = False, model_config: DiffusionConfig | None = None,
                      encoder: SpeechEncoder | None = None) -> list[MotionPair]:
    """Track every video in ``folder`` (face tracker) and pair its motion with its sound
    (features as in :func:`make_pair`)."""
    from vasa3d.face import track_video
    from vasa3d.io.media import load_audio
    from vasa3d.progress import track

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"not a folder of videos: {folder}")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise InputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {folder}")
    pairs = []
    for video in track(videos, "tracking videos", quiet=quiet):
        motion = track_video(video, quiet=True)
        if abs(motion.fps - 25.0) > 0.01:
            motion = resample_motion(motion, 25.0)
        samples, _ = load_audio(video, sr=16000)
        pairs.append(make_pair(samples, motion, None, model_config, encoder))
    return pairs


def resample_motion(motion: MotionLatent, fps: float) -> MotionLatent:
    """Linear interpolation of a latent to another frame rate."""
    n = max(1, int(round(len(motion) * fps / motion.fps)))
    src = np.arange(len(motion)) / motion.fps
    dst = np.arange(n) / fps
    interp = lambda a: np.stack([np.interp(dst, src, a[:, k]) for k in range(a.shape[1])], axis=1)  # noqa: E731
    return MotionLatent(interp(motion.z_dyn), interp(motion.z_pose), fps, motion.schema,
                        motion.dyn_names, motion.pose_names)


def fit_normalisation(model: DiffusionModel, pairs: list[MotionPair]) -> None:
    motion = np.concatenate([p.motion for p in pairs])
    audio = np.concatenate([p.audio for p in pairs])
    model.motion_mean.copy_(torch.from_numpy(motion.mean(0)))
    model.motion_std.copy_(torch.from_numpy(np.maximum(motion.std(0), 1e-3)))
    model.audio_mean.copy_(torch.from_numpy(audio.mean(0)))
    model.audio_std.copy_(torch.from_numpy(np.maximum(audio.std(0), 1e-3)))


def window_batch(model: DiffusionModel, pairs: list[MotionPair], batch: int, rng: np.random.Generator
                 ) -> tuple[torch.Tensor, ...]:
    """Random windows, normalised: target, audio, context, context_mask, controls."""
    cfg = model.cfg
    C, W, A = cfg.context, cfg.window, cfg.audio_ahead
    lengths = np.array([len(p.motion) for p in pairs], float)
    which = rng.choice(len(pairs), size=batch, p=lengths / lengths.sum())
    target = np.zeros((batch, W, MOTION_DIM), np.float32)
    audio = np.zeros((batch, C + W + A, model.audio_dim), np.float32)
    context = np.zeros((batch, C, MOTION_DIM), np.float32)
    mask = np.zeros((batch, C), np.float32)
    controls = np.zeros((batch, CONTROL_DIM), np.float32)
    m_mean, m_std = model.motion_mean.numpy(), model.motion_std.numpy()
    a_mean, a_std = model.audio_mean.numpy(), model.audio_std.numpy()
    for b, i in enumerate(which):
        p = pairs[i]
        T = len(p.motion)
        start = int(rng.integers(0, max(1, T - W + 1)))
        rows = np.clip(np.arange(start, start + W), 0, T - 1)
        target[b] = (p.motion[rows] - m_mean) / m_std
        arows = np.clip(np.arange(start - C, start + W + A), 0, T - 1)
        audio[b] = (p.audio[arows] - a_mean) / a_std
        for j, f in enumerate(range(start - C, start)):
            if f >= 0:
                context[b, j] = (p.motion[f] - m_mean) / m_std
                mask[b, j] = 1.0
        controls[b] = p.controls
    return tuple(torch.from_numpy(a) for a in (target, audio, context, mask, controls))


def _save_optimizer(opt: torch.optim.Optimizer, step: int, path: str) -> None:
    from safetensors.torch import save_file

    tensors = {}
    for i, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{i}.{key}"] = torch.as_tensor(value).detach().contiguous()
    from vasa3d.io.paths import atomic_output

    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "vasa3d-audio2motion-optimizer", "step": str(step)})


def _load_optimizer(opt: torch.optim.Optimizer, path: str) -> int:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        step = int((f.metadata() or {}).get("step", 0))
        state: dict[int, dict] = {}
        for key in f.keys():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = f.get_tensor(key)
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)
    return step


def _check_features(pairs: list[MotionPair], tag: str) -> None:
    for p in pairs:
        if p.features != tag:
            raise InputError(f"the training pairs carry '{p.features}' audio features but the model reads "
                             f"'{tag}'; make the pairs with the model's features and speech encoder")


def train_audio2motion(pairs: list[MotionPair], output: str | os.PathLike, model_config: DiffusionConfig | None = None,
                       config: TrainAudio2MotionConfig | None = None, resume: bool = False,
                       quiet: bool = False) -> DiffusionModel:
    """Train (or with ``resume`` continue training) and write ``output`` (+ ``output.optim``).

    The model file is written every ``checkpoint_every`` steps and at the end; ``resume`` reads
    both files and continues from the saved step. The pairs must carry the features the model
    reads (``model_config.features``; on resume, the saved model's); a wav2vec2 model records
    the identity of the pairs' speech encoder.
    """
    from vasa3d.progress import track

    cfg = config or TrainAudio2MotionConfig()
    if not pairs:
        raise InputError("no training pairs")
    output = str(output)
    optim_path = output + ".optim"
    torch.manual_seed(cfg.seed)
    if resume:
        if not (os.path.isfile(output) and os.path.isfile(optim_path)):
            raise InputError(f"nothing to resume: {output} and {optim_path} must both exist")
        model = DiffusionModel.load(output)
    else:
        model_config = (model_config or DiffusionConfig()).validate()
        _check_features(pairs, feature_tag(model_config, pairs[0].encoder_identity))
        model = DiffusionModel(model_config, pairs[0].encoder_identity)
        fit_normalisation(model, pairs)
    _check_features(pairs, model.feature_tag)
    model.train()
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=0.0)
    step = _load_optimizer(opt, optim_path) if resume else 0
    rng = np.random.default_rng((cfg.seed, step))
    gen = torch.Generator().manual_seed(cfg.seed * 7919 + step)
    for step in track(range(step, cfg.steps), "training audio-to-motion", total=max(0, cfg.steps - step),
                      quiet=quiet):
        lr = cfg.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + np.cos(np.pi * step / max(cfg.steps, 1)))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = model.loss(*window_batch(model, pairs, cfg.batch, rng), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
        opt.step()
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            model.save(output)
            _save_optimizer(opt, step + 1, optim_path)
    model.eval()
    return model


@torch.no_grad()
def evaluate_windows(model: DiffusionModel, pairs: list[MotionPair], mean_motion: np.ndarray, windows: int = 200,
                     seed: int = 1) -> dict[str, float]:
    """Sampled windows (true previous frames as context) against the truth, and the mean-motion predictor.

    Returns mean squared errors over the mouth channels and over all 59 channels:
    ``{"model_mouth", "mean_mouth", "model_all", "mean_all"}`` (unnormalised units).
    """
    model.eval()
    rng = np.random.default_rng(seed)
    target, audio, context, mask, controls = window_batch(model, pairs, windows, rng)
    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(seed))
    pred = model.denorm_motion(model.sample_window(audio, context, mask, controls, noise)).numpy()
    truth = model.denorm_motion(target).numpy()
    pred[..., :52] = np.clip(pred[..., :52], 0, 1)
    mouth = list(MOUTH_CHANNELS)
    return {
        "model_mouth": float(np.mean((pred[..., mouth] - truth[..., mouth]) ** 2)),
        "mean_mouth": float(np.mean((mean_motion[mouth] - truth[..., mouth]) ** 2)),
        "model_all": float(np.mean((pred - truth) ** 2)),
        "mean_all": float(np.mean((mean_motion - truth) ** 2)),
    }
