"""The ``diffusion`` audio-to-motion generator: a small diffusion transformer over motion windows (VASA-1 style).

Each step generates a window of ``window`` frames (80 ms at 25 fps) of the motion latent
x = [z_dyn, z_pose], conditioned on

* the audio features (log-mel, or the hidden states of a user-supplied wav2vec2 / HuBERT encoder
  on a sliding window: :mod:`vasa3d.motion.speech_encoder`) of the window's frames, of the
  ``context`` frames before it and of ``audio_ahead`` frames after it,
* the ``context`` frames generated before it (continuity), and
* the control signals (emotion with intensity, gaze, head distance, motion intensity),

with classifier-free guidance (the audio and the controls are dropped together with probability
``p_uncond`` in training; sampling mixes ``uncond + cfg_scale * (cond - uncond)``). The network
predicts the clean window x0 from a noisy one (cosine noise schedule, ``train_steps`` levels);
sampling runs ``sample_steps`` deterministic DDIM steps from noise drawn from ``(seed, window index)``,
so a stream and an offline call produce the same frames. A frame's look-ahead is the rest of its
window plus ``audio_ahead`` frames plus 12.5 ms (the features' own look-ahead, log-mel or wav2vec2):
92.5 ms with the defaults.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from vasa3d.errors import InputError, MissingAssetError
from vasa3d.motion.config import EMOTIONS, DiffusionConfig, MotionConfig
from vasa3d.motion.latent import MotionLatent
from vasa3d.motion.melspec import FRAME_DIM
from vasa3d.motion.speech_encoder import EncoderIdentity, SpeechEncoder

MOTION_DIM = 52 + 7
CONTROL_DIM = len(EMOTIONS) + 4


def control_vector(config: MotionConfig) -> np.ndarray:
    """``(9,)`` emotion one-hot times intensity, gaze / 30 degrees, log head distance, motion intensity - 1."""
    v = np.zeros(CONTROL_DIM, np.float32)
    if config.emotion != "neutral":
        v[EMOTIONS.index(config.emotion)] = config.emotion_intensity
    v[len(EMOTIONS):len(EMOTIONS) + 2] = np.asarray(config.gaze, np.float32) / 30.0
    v[len(EMOTIONS) + 2] = math.log(config.head_distance)
    v[len(EMOTIONS) + 3] = config.motion_intensity - 1.0
    return v


def _timestep_embedding(t: Tensor, dim: int) -> Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def cosine_alpha_bar(steps: int) -> Tensor:
    """``(steps + 1,)`` cumulative signal fraction, from 1 (clean) to ~0 (pure noise)."""
    s = 0.008
    t = torch.linspace(0, 1, steps + 1)
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (f / f[0]).clamp(1e-5, 1.0)


class MotionDiT(nn.Module):
    """Denoiser ``f(x_t, t, audio, context, controls) -> x0`` over one window.

    Tokens: ``context`` frames of previous motion, then ``window`` noisy frames, then
    ``audio_ahead`` audio-only frames. Every token carries its frame's audio features; the
    timestep and control embeddings are added to all tokens.

    Shapes: x_t ``(B, W, 59)``, t ``(B,)``, audio ``(B, C + W + A, audio_dim)`` (160 log-mel numbers
    or the speech encoder's hidden size), context ``(B, C, 59)``,
    context_mask ``(B, C)`` (1 where a previous frame exists), controls ``(B, 9)``,
    cond_mask ``(B,)`` (0 drops audio and controls); returns x0 ``(B, W, 59)``.
    """

    def __init__(self, cfg: DiffusionConfig, audio_dim: int = FRAME_DIM):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        n_tokens = cfg.context + cfg.window + cfg.audio_ahead
        self.motion_in = nn.Linear(MOTION_DIM, d)
        self.audio_in = nn.Sequential(nn.Linear(audio_dim, d), nn.GELU(), nn.Linear(d, d))
        self.control_in = nn.Linear(CONTROL_DIM, d)
        self.time_in = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.position = nn.Parameter(torch.zeros(n_tokens, d))
        self.kind = nn.Parameter(torch.zeros(3, d))  # context, target, audio-only
        self.null_audio = nn.Parameter(torch.zeros(d))
        self.null_control = nn.Parameter(torch.zeros(d))
        layer = nn.TransformerEncoderLayer(d, cfg.heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, MOTION_DIM)
        nn.init.normal_(self.position, std=0.02)
        nn.init.normal_(self.kind, std=0.02)

    def forward(self, x_t: Tensor, t: Tensor, audio: Tensor, context: Tensor, context_mask: Tensor,
                controls: Tensor, cond_mask: Tensor) -> Tensor:
        cfg = self.cfg
        B = x_t.shape[0]
        C, W, A = cfg.context, cfg.window, cfg.audio_ahead
        keep = cond_mask[:, None, None].to(x_t.dtype)
        audio_tok = self.audio_in(audio) * keep + self.null_audio * (1 - keep)
        ctrl = self.control_in(controls) * keep[:, 0] + self.null_control * (1 - keep[:, 0])
        glob = self.time_in(_timestep_embedding(t, cfg.d_model)) + ctrl  # (B, d)
        ctx_tok = self.motion_in(context) * context_mask[..., None] + self.kind[0]
        tgt_tok = self.motion_in(x_t) + self.kind[1]
        ahead_tok = torch.zeros(B, A, cfg.d_model, dtype=x_t.dtype, device=x_t.device) + self.kind[2]
        tokens = torch.cat([ctx_tok, tgt_tok, ahead_tok], dim=1) + audio_tok + self.position + glob[:, None, :]
        h = self.blocks(tokens)
        return self.out(self.out_norm(h[:, C:C + W]))


class DiffusionModel(nn.Module):
    """:class:`MotionDiT` plus the motion and audio normalisation learnt from the training data, and sampling.

    A model on wav2vec2 features (``cfg.features``) carries the :class:`EncoderIdentity` of the
    speech encoder it was trained with (``encoder``, kept as ``encoder_identity``) and only runs
    with that encoder.
    """

    def __init__(self, cfg: DiffusionConfig | None = None, encoder: EncoderIdentity | None = None):
        super().__init__()
        self.cfg = (cfg or DiffusionConfig()).validate()
        if self.cfg.features == "wav2vec2" and encoder is None:
            raise MissingAssetError("a model on wav2vec2 features needs its speech encoder: "
                                    "give --speech-encoder DIR (a wav2vec2 / HuBERT save_pretrained folder)")
        self.encoder_identity = encoder if self.cfg.features == "wav2vec2" else None
        self.audio_dim = FRAME_DIM if self.encoder_identity is None else self.encoder_identity.hidden_size
        self.net = MotionDiT(self.cfg, self.audio_dim)
        self.register_buffer("motion_mean", torch.zeros(MOTION_DIM))
        self.register_buffer("motion_std", torch.ones(MOTION_DIM))
        self.register_buffer("audio_mean", torch.zeros(self.audio_dim))
        self.register_buffer("audio_std", torch.ones(self.audio_dim))
        self.register_buffer("alpha_bar", cosine_alpha_bar(self.cfg.train_steps))

    # ------------------------------------------------------------- normalising
    def norm_motion(self, m: Tensor) -> Tensor:
        return (m - self.motion_mean) / self.motion_std

    def denorm_motion(self, m: Tensor) -> Tensor:
        return m * self.motion_std + self.motion_mean

    def norm_audio(self, a: Tensor) -> Tensor:
        return (a - self.audio_mean) / self.audio_std

    @property
    def feature_tag(self) -> str:
        """Names the audio features this model reads; training pairs must carry the same tag."""
        return feature_tag(self.cfg, self.encoder_identity)

    # ---------------------------------------------------------------- training
    def loss(self, target: Tensor, audio: Tensor, context: Tensor, context_mask: Tensor, controls: Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """Mean squared error of the predicted clean window; inputs are *normalised* except controls.

        Shapes: target ``(B, W, 59)``, audio ``(B, C + W + A, audio_dim)``, context ``(B, C, 59)``,
        context_mask ``(B, C)``, controls ``(B, 9)``.
        """
        B, dev = target.shape[0], target.device
        t = torch.randint(1, self.cfg.train_steps + 1, (B,), generator=generator).to(dev)
        ab = self.alpha_bar[t][:, None, None]
        noise = torch.randn(target.shape, generator=generator).to(dev)
        x_t = ab.sqrt() * target + (1 - ab).sqrt() * noise
        cond = (torch.rand(B, generator=generator) >= self.cfg.p_uncond).float().to(dev)
        x0 = self.net(x_t, t, audio, context, context_mask, controls, cond)
        return torch.mean((x0 - target) ** 2)

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample_window(self, audio: Tensor, context: Tensor, context_mask: Tensor, controls: Tensor,
                      noise: Tensor) -> Tensor:
        """DDIM sampling of one window per batch row; everything normalised; returns ``(B, W, 59)``."""
        cfg = self.cfg
        B, dev = noise.shape[0], noise.device
        times = torch.linspace(cfg.train_steps, 0, cfg.sample_steps + 1).round().long().tolist()
        x = noise
        guided = cfg.cfg_scale != 1.0
        if guided:  # conditional and unconditional rows in one batch
            audio2, context2 = torch.cat([audio, audio]), torch.cat([context, context])
            mask2, controls2 = torch.cat([context_mask, context_mask]), torch.cat([controls, controls])
            cond2 = torch.cat([torch.ones(B, device=dev), torch.zeros(B, device=dev)])
        for i in range(cfg.sample_steps):
            t, t_next = times[i], times[i + 1]
            tt = torch.full((B,), t, device=dev, dtype=torch.long)
            if guided:
                both = self.net(torch.cat([x, x]), torch.cat([tt, tt]), audio2, context2, mask2, controls2, cond2)
                cond, uncond = both[:B], both[B:]
                x0 = uncond + cfg.cfg_scale * (cond - uncond)
            else:
                x0 = self.net(x, tt, audio, context, context_mask, controls, torch.ones(B, device=dev))
            ab, ab_next = self.alpha_bar[t], self.alpha_bar[t_next]
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-6)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return x

    # ------------------------------------------------------------------- files
    def save(self, path) -> None:
        """One safetensors file: weights and buffers, with the config in its metadata; atomic."""
        from safetensors.torch import save_file

        from vasa3d.io.paths import atomic_output

        tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        meta = {"format": "vasa3d-audio2motion", "version": "2", "config": json.dumps(asdict(self.cfg))}
        if self.encoder_identity is not None:
            meta["speech_encoder"] = self.encoder_identity.to_json()
        with atomic_output(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)

    @classmethod
    def load(cls, path) -> "DiffusionModel":
        """Read a file written by :meth:`save` (safetensors: nothing is unpickled).

        The config in the metadata is checked field by field, and every tensor's name, dtype and shape
        against the network that config builds (made on the meta device, so nothing is allocated), before
        any weight is read: a file with wrong or missing tensors is one line.
        """
        import os

        from safetensors import safe_open

        if not os.path.isfile(path):
            raise MissingAssetError(f"audio-to-motion model not found: {path}; train one with 'vasa3d train-audio2motion'")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("format") != "vasa3d-audio2motion":
                    raise InputError(f"{path} is not a vasa3d audio-to-motion model")
                if meta.get("version", "1") not in ("1", "2"):
                    raise InputError(f"{path} is an audio-to-motion model of a newer format "
                                     f"({str(meta['version'])[:20]}); update vasa3d")
                cfg = _config_from_json(meta.get("config"), path)
                encoder = _encoder_from_json(meta["speech_encoder"], path) if "speech_encoder" in meta else None
                if cfg.features == "wav2vec2" and encoder is None:
                    raise InputError(f"{path} is a wav2vec2-feature model without its encoder's identity; retrain it")
                with torch.device("meta"):
                    want = {k: (v.dtype, tuple(v.shape)) for k, v in cls(cfg, encoder).state_dict().items()}
                have = {k: f.get_slice(k) for k in f.keys()}
                missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
                if missing or extra:
                    names = ", ".join((missing or extra)[:3])
                    raise InputError(f"{path} does not hold the tensors its config needs "
                                     f"({'missing' if missing else 'unexpected'}: {names}); retrain it")
                for k, (dtype, shape) in want.items():
                    if have[k].get_dtype() != "F32" or tuple(have[k].get_shape()) != shape:
                        raise InputError(f"{path}: tensor {k} is {have[k].get_dtype()} {list(have[k].get_shape())}, "
                                         f"not F32 {list(shape)}; retrain it")
                tensors = {k: f.get_tensor(k) for k in want}
        except InputError:
            raise
        except Exception as exc:  # safetensors raises several kinds for a damaged file
            raise InputError(f"{path} is not a readable audio-to-motion model ({exc.__class__.__name__})") from None
        bad = [k for k, v in tensors.items() if not bool(torch.isfinite(v).all())]
        if bad:
            raise InputError(f"{path}: tensor {bad[0]} holds NaN or infinite values; retrain it")
        model = cls(cfg, encoder)
        model.load_state_dict(tensors)
        model.eval()
        return model


#: the config fields a model file may set, and their ranges (the network is built from them)
_CONFIG_RANGES = {"window": (1, 256), "context": (0, 1024), "audio_ahead": (0, 256), "d_model": (1, 8192),
                  "layers": (1, 256), "heads": (1, 256), "train_steps": (1, 100_000), "sample_steps": (1, 100_000),
                  "cfg_scale": (0.0, 100.0), "p_uncond": (0.0, 1.0), "fps": (1.0, 240.0),
                  "speech_context_s": (0.1, 10.0)}


def _config_from_json(text, path) -> DiffusionConfig:
    """The model file's :class:`DiffusionConfig`, every field checked for type and range."""
    try:
        raw = json.loads(text)
    except (TypeError, ValueError):
        raw = None
    if not isinstance(raw, dict):
        raise InputError(f"{path} has no readable model config; retrain it")
    fields = {f.name: f for f in DiffusionConfig.__dataclass_fields__.values()}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InputError(f"{path}: unknown model config field {unknown[0][:40]!r}; update vasa3d or retrain it")
    for key, value in raw.items():
        default = getattr(DiffusionConfig, key)
        if isinstance(default, str):
            ok = isinstance(value, str) and len(value) < 100
        elif isinstance(default, int):
            ok = type(value) is int
        else:
            ok = type(value) in (int, float) and math.isfinite(value)
        lo, hi = _CONFIG_RANGES.get(key, (None, None))
        if ok and lo is not None:
            ok = lo <= value <= hi
        if not ok:
            raise InputError(f"{path}: model config field {key} is {json.dumps(value)[:40]}; retrain it")
    cfg = DiffusionConfig(**raw).validate()
    if cfg.d_model % cfg.heads or cfg.sample_steps > cfg.train_steps:
        raise InputError(f"{path}: model config has {cfg.heads} heads for width {cfg.d_model} and "
                         f"{cfg.sample_steps} of {cfg.train_steps} steps; retrain it")
    return cfg


def _encoder_from_json(text, path) -> EncoderIdentity:
    """The speech-encoder identity stored in a model file, with its fields checked."""
    try:
        raw = json.loads(text)
        identity = EncoderIdentity(**raw)
    except (TypeError, ValueError):
        raise InputError(f"{path} has an unreadable speech-encoder identity; retrain it") from None
    if not (type(identity.hidden_size) is int and 1 <= identity.hidden_size <= 8192
            and type(identity.num_layers) is int and 1 <= identity.num_layers <= 1024
            and all(isinstance(v, str) for v in (identity.model_type, identity.config_sha256,
                                                 identity.weights_sha256))):
        raise InputError(f"{path} has an unreadable speech-encoder identity; retrain it")
    return identity


def feature_tag(cfg: DiffusionConfig, encoder: EncoderIdentity | None) -> str:
    """'logmel', or the wav2vec2 encoder's hashes, layers and window: what the audio features are."""
    if cfg.features == "logmel":
        return "logmel"
    if encoder is None:
        return "wav2vec2 (no encoder)"
    return (f"wav2vec2:{encoder.model_type}:{encoder.config_sha256[:16]}:{encoder.weights_sha256[:16]}:"
            f"layers={cfg.speech_layers}:context={cfg.speech_context_s:g}")


def check_encoder(model: DiffusionModel, encoder: SpeechEncoder) -> None:
    """Raise :class:`InputError` unless ``encoder`` is the one ``model`` was trained with."""
    need, have = model.encoder_identity, encoder.identity
    if need is None or need == have:
        return
    if (need.model_type, need.hidden_size, need.num_layers, need.config_sha256) != (
            have.model_type, have.hidden_size, have.num_layers, have.config_sha256):
        raise InputError(f"this model was trained on {need.describe()}, but {encoder.path} holds "
                         f"{have.describe()}; supply the encoder it was trained with")
    raise InputError(f"this model was trained on {need.describe()}; {encoder.path} has the same architecture "
                     f"but other weights ({have.weights_sha256[:12]}); supply the encoder it was trained with")


def speech_encoder_for(model: DiffusionModel, config: MotionConfig,
                       encoder: SpeechEncoder | None = None) -> SpeechEncoder | None:
    """The checked speech encoder ``model`` needs (``encoder``, or loaded from ``config.speech_encoder``);
    None for a log-mel model."""
    if model.encoder_identity is None:
        if encoder is not None or config.speech_encoder:
            raise InputError("this model reads log-mel features, not a speech encoder; drop --speech-encoder")
        return None
    if encoder is None:
        if not config.speech_encoder:
            raise MissingAssetError(f"this model was trained on wav2vec2 features of "
                                    f"{model.encoder_identity.describe()}: pass --speech-encoder DIR with that "
                                    f"encoder's save_pretrained folder")
        encoder = SpeechEncoder.load(config.speech_encoder)
    check_encoder(model, encoder)
    return encoder


def feature_stream(model: DiffusionModel, encoder: SpeechEncoder | None):
    """A :class:`LogMelStream` or a :class:`SpeechFeatureStream`, as ``model`` needs (``push(x16, final)``)."""
    from vasa3d.motion.melspec import LogMelStream
    from vasa3d.motion.speech_encoder import SpeechFeatureStream

    if model.encoder_identity is None:
        return LogMelStream(model.cfg.fps)
    return SpeechFeatureStream(encoder, model.cfg.speech_layers, model.cfg.speech_context_s, model.cfg.fps)


@dataclass
class _StreamState:
    generated: list[np.ndarray] = field(default_factory=list)  # normalised frames (59,)
    audio: list[np.ndarray] = field(default_factory=list)  # normalised per-frame features (audio_dim,)
    first_frame: int = 0  # frame index of generated[0] and audio[0]


class DiffusionStream:
    """Chunk-by-chunk generation with a trained :class:`DiffusionModel`; see :class:`MotionStream`.

    A model on wav2vec2 features needs its speech encoder: ``encoder`` (loaded once by the caller),
    or the folder ``config.speech_encoder``; on the CPU the encoder runs once per 40 ms chunk.
    """

    def __init__(self, model: DiffusionModel, sample_rate: int, config: MotionConfig | None = None,
                 encoder: SpeechEncoder | None = None):
        from vasa3d.motion.audio import StreamResampler, as_mono_float

        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.config = (config or MotionConfig()).validate()
        if abs(self.config.fps - model.cfg.fps) > 1e-6:
            raise InputError(f"this model makes {model.cfg.fps:g} fps motion; set fps to match")
        as_mono_float(np.zeros(1, np.float32), sample_rate)
        self.sample_rate = int(sample_rate)
        self.resampler = StreamResampler(self.sample_rate)
        self.encoder = speech_encoder_for(model, self.config, encoder)
        if self.encoder is not None:
            self.encoder.to(self.device)
        self.features = feature_stream(model, self.encoder)
        self.controls = torch.from_numpy(control_vector(self.config))[None]
        self.state = _StreamState()
        self.window_index = 0
        self.n_in = 0

    def _feats(self, feats: np.ndarray) -> None:
        if len(feats):
            mean, std = self.model.audio_mean.cpu().numpy(), self.model.audio_std.cpu().numpy()
            normed = ((feats - mean) / std).astype(np.float32)
            self.state.audio.extend(normed)

    def _generate(self, total_frames: int | None) -> MotionLatent:
        if self.device.type != "cpu":
            return self._generate_windows(total_frames)
        # a window is a few hundred thousand multiply-adds: threads only add contention
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._generate_windows(total_frames)
        finally:
            torch.set_num_threads(before)

    def _generate_windows(self, total_frames: int | None) -> MotionLatent:
        cfg = self.model.cfg
        C, W, A = cfg.context, cfg.window, cfg.audio_ahead
        st = self.state
        out = []
        while True:
            start = self.window_index * W
            if total_frames is not None and start >= total_frames:
                break
            have = st.first_frame + len(st.audio)
            if total_frames is None and have < start + W + A:
                break
            # audio rows for frames start - C .. start + W + A - 1 (edges repeat the nearest frame)
            idx = np.clip(np.arange(start - C, start + W + A), 0, max(have - 1, 0)) - st.first_frame
            silence = np.zeros(self.model.audio_dim, np.float32)
            audio = np.stack([st.audio[i] if 0 <= i < len(st.audio) else silence for i in idx])
            ctx = np.zeros((C, MOTION_DIM), np.float32)
            mask = np.zeros(C, np.float32)
            for j, f in enumerate(range(start - C, start)):
                k = f - st.first_frame
                if f >= 0 and 0 <= k < len(st.generated):
                    ctx[j], mask[j] = st.generated[k], 1.0
            gen = torch.Generator().manual_seed(int(self.config.seed) * 1_000_003 + self.window_index)
            noise = torch.randn((1, W, MOTION_DIM), generator=gen)
            dev = self.device
            x = self.model.sample_window(torch.from_numpy(audio)[None].to(dev), torch.from_numpy(ctx)[None].to(dev),
                                         torch.from_numpy(mask)[None].to(dev), self.controls.to(dev),
                                         noise.to(dev))[0].cpu().numpy()
            st.generated.extend(x)
            out.append(x)
            self.window_index += 1
            keep = C + W + A + 8
            if len(st.generated) > keep * 4:
                drop = len(st.generated) - keep
                st.generated = st.generated[drop:]
                st.audio = st.audio[drop:]
                st.first_frame += drop
        if not out:
            return MotionLatent(np.zeros((0, 52)), np.zeros((0, 7)), cfg.fps)
        frames = np.concatenate(out) * self.model.motion_std.cpu().numpy() + self.model.motion_mean.cpu().numpy()
        if total_frames is not None:
            frames = frames[: max(0, total_frames - (self.window_index * W - len(frames)))]
        z_dyn = np.clip(frames[:, :52], 0.0, 1.0)
        return MotionLatent(z_dyn, frames[:, 52:], cfg.fps)

    def push(self, samples: np.ndarray) -> MotionLatent:
        from vasa3d.motion.audio import as_mono_float

        x = np.asarray(samples)
        if x.size:
            x = as_mono_float(x, self.sample_rate)
            self.n_in += len(x)
            self._feats(self.features.push(self.resampler.push(x)))
        return self._generate(None)

    def flush(self) -> MotionLatent:
        x16 = self.resampler.flush()
        self._feats(self.features.push(x16, final=True))
        total = max(1, int(np.ceil(self.n_in / self.sample_rate * self.model.cfg.fps - 1e-6)))
        return self._generate(total)


def diffusion_motion(samples: np.ndarray, sample_rate: int, model: DiffusionModel,
                     config: MotionConfig | None = None, encoder: SpeechEncoder | None = None) -> MotionLatent:
    """Offline generation with a trained model (the stream fed in one piece; ``encoder``: see
    :class:`DiffusionStream`)."""
    from vasa3d.motion.audio import as_mono_float
    from vasa3d.motion.generate import concat_latents

    x = as_mono_float(samples, sample_rate)
    stream = DiffusionStream(model, sample_rate, config, encoder)
    with torch.no_grad():
        return concat_latents([stream.push(x), stream.flush()], model.cfg.fps)
