"""Speech-encoder features (wav2vec2 / HuBERT / WavLM) per motion frame, from a user-supplied checkpoint.

The diffusion generator can be conditioned on the hidden states of a self-supervised speech
model instead of log-mel features. A full-context transformer would see the whole clip, so
here every motion frame ``t`` gets its own **sliding window** of 16 kHz audio: ``context_s`` of
past audio ending half an encoder receptive field (12.5 ms for wav2vec2) after the frame's time
``t / fps``. The encoder runs on that window alone (zero before the clip's start and after its
end), and the frame's feature is the mean, over the window's last ``hop / stride`` output frames
(the 40 ms up to the frame's time at 25 fps) and over the chosen layers, of the hidden states.
A stream and an offline call build exactly the same windows, so they give the same features,
and a frame needs audio up to ``t / fps + 12.5 ms`` only.

The checkpoint is a folder as ``save_pretrained`` writes it: ``config.json`` plus
``model.safetensors`` or ``pytorch_model.bin`` (read with ``weights_only``, nothing is
unpickled), optionally ``preprocessor_config.json`` (its ``do_normalize``). A ``*ForCTC`` (or
other task) checkpoint gives its base model. Loading never reaches the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError, MissingAssetError
from vasa3d.motion.audio import WORK_RATE

#: ``model_type`` of the Hugging Face speech encoders with a wav2vec2-style convolutional front end.
SPEECH_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer", "unispeech",
                      "unispeech-sat")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
#: config keys that change what the base model computes at inference (dropout, masking, CTC do not)
_ARCH_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "hidden_act", "layer_norm_eps", "feat_extract_norm", "feat_extract_activation", "conv_dim",
              "conv_stride", "conv_kernel", "conv_bias", "num_conv_pos_embeddings",
              "num_conv_pos_embedding_groups", "conv_pos_batch_norm", "do_stable_layer_norm",
              "position_embeddings_type", "num_buckets", "max_bucket_distance", "rotary_embedding_base",
              "conformer_conv_depthwise_kernel_size", "add_adapter", "adapter_kernel_size", "adapter_stride",
              "num_adapter_layers", "output_hidden_size")
#: parameters that inference never reads (the training-time mask embedding)
_UNUSED = ("masked_spec_embed",)
_WHAT = ("a folder with config.json and model.safetensors or pytorch_model.bin of a wav2vec2, HuBERT or "
         "WavLM model (save_pretrained)")


@dataclass(frozen=True)
class EncoderIdentity:
    """What a trained model needs to know about its speech encoder (saved in the model file)."""

    model_type: str
    hidden_size: int
    num_layers: int
    config_sha256: str
    """SHA-256 of the architecture fields of config.json and ``do_normalize``."""
    weights_sha256: str
    """SHA-256 of a fixed sample of every parameter (telling apart differently trained weights)."""

    def describe(self) -> str:
        return (f"a {self.model_type} encoder ({self.num_layers} layers, hidden {self.hidden_size}, "
                f"config {self.config_sha256[:12]}, weights {self.weights_sha256[:12]})")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "EncoderIdentity":
        return cls(**json.loads(text))


def layer_range(spec: str, num_layers: int) -> tuple[int, int]:
    """``(first, last)`` hidden-state indices (1 = first transformer layer's output, 0 = its input).

    ``spec``: 'auto' (the middle-to-upper layers ceil(L/2)..ceil(3L/4): 6-9 of 12), 'K' or 'A-B'.
    """
    s = spec.strip().lower()
    if s == "auto":
        return math.ceil(num_layers / 2), max(1, math.ceil(3 * num_layers / 4))
    m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", s)
    if not m:
        raise InputError(f"speech layers must be 'auto', a layer number or a range like '6-9', got '{spec}'")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) else a
    if not 0 <= a <= b <= num_layers:
        raise InputError(f"speech layers '{spec}' are outside the encoder's 0-{num_layers}")
    return a, b


@contextlib.contextmanager
def _quiet_transformers(transformers):
    """No progress bars or load reports on the user's terminal while the encoder loads."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc.__class__.__name__}); supply {_WHAT}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a model config; supply {_WHAT}")
    return data


class SpeechEncoder:
    """A frozen speech encoder loaded from a folder; see the module docstring.

    Attributes: ``identity`` (:class:`EncoderIdentity`), ``stride`` (input samples per output frame,
    320), ``receptive`` (input samples of one output frame, 400), ``do_normalize``, ``path``.
    """

    def __init__(self, model, do_normalize: bool, identity: EncoderIdentity, path: str):
        self.model = model.eval()
        self.do_normalize = do_normalize
        self.identity = identity
        self.path = path
        cfg = model.config
        self.stride = int(np.prod(cfg.conv_stride))
        receptive, jump = 1, 1
        for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
            receptive += (k - 1) * jump
            jump *= s
        self.receptive = receptive

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SpeechEncoder":
        """Read a ``save_pretrained`` folder offline.

        Raises:
            MissingAssetError: no path, no such folder, no weights in it, or no ``transformers``.
            InputError: not a speech encoder's config, or weights that do not fit it.
        """
        if not str(path or "").strip():
            raise MissingAssetError(f"the wav2vec2 features need a speech encoder: pass --speech-encoder DIR, {_WHAT}")
        folder = Path(path)
        if not folder.is_dir():
            raise MissingAssetError(f"speech encoder folder not found: {folder}; supply {_WHAT}")
        if not (folder / "config.json").is_file():
            raise InputError(f"{folder} has no config.json; supply {_WHAT}")
        config = _read_json(folder / "config.json")
        model_type = config.get("model_type")
        if model_type not in SPEECH_MODEL_TYPES:
            raise InputError(f"{folder} holds a '{model_type}' model, not a speech encoder; supply {_WHAT}")
        if not any((folder / name).is_file() for name in WEIGHT_FILES):
            raise MissingAssetError(f"{folder} has config.json but no model.safetensors or pytorch_model.bin; "
                                    f"copy the weights next to it")
        do_normalize = True  # Wav2Vec2FeatureExtractor's default
        if (folder / "preprocessor_config.json").is_file():
            do_normalize = bool(_read_json(folder / "preprocessor_config.json").get("do_normalize", True))
        try:
            import torch
            import transformers
        except ImportError:
            raise MissingAssetError("the wav2vec2 features need the 'transformers' package: "
                                    "pip install 'vasa3d[speech]' (transformers==5.23.0)") from None
        try:
            with _quiet_transformers(transformers):
                model, info = transformers.AutoModel.from_pretrained(
                    str(folder), local_files_only=True, trust_remote_code=False, weights_only=True,
                    dtype=torch.float32, output_loading_info=True)
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError... for a bad folder
            if "mismatched" in str(exc) or "size mismatch" in str(exc):
                raise InputError(f"{folder}: the weights do not fit config.json (parameters of another shape); "
                                 f"supply the folder as save_pretrained wrote it") from None
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise InputError(f"{folder}: the speech encoder could not be loaded ({exc.__class__.__name__}: "
                             f"{first})") from None
        missing = sorted(k for k in info.get("missing_keys", ()) if not k.endswith(_UNUSED))
        if missing or info.get("mismatched_keys"):
            bad = missing or sorted(str(k) for k in info["mismatched_keys"])
            raise InputError(f"{folder}: the weights do not fit config.json ({len(bad)} parameters missing or "
                             f"of another shape, e.g. {bad[0]}); supply the folder as save_pretrained wrote it")
        return cls(model, do_normalize, _identity(model, do_normalize), str(folder))

    @property
    def device(self):
        return next(self.model.parameters()).device

    def to(self, device) -> "SpeechEncoder":
        self.model.to(device)
        return self

    def hidden(self, windows: np.ndarray, layers: tuple[int, int], last: int) -> np.ndarray:
        """``(B, hidden)``: hidden states of layers ``layers`` (inclusive) averaged over the last
        ``last`` output frames of each window ``(B, N)`` of 16 kHz audio."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(windows, np.float32)).to(self.device)
        if self.do_normalize:  # as Wav2Vec2FeatureExtractor does per utterance, here per window
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-7)
        with torch.no_grad():
            states = self.model(x, output_hidden_states=True).hidden_states
            h = torch.stack(states[layers[0]:layers[1] + 1]).mean(dim=0)  # (B, frames, hidden)
            return h[:, -last:].mean(dim=1).float().cpu().numpy()


def _identity(model, do_normalize: bool) -> EncoderIdentity:
    cfg = model.config.to_dict()
    arch = {k: cfg[k] for k in _ARCH_KEYS if k in cfg}
    arch["do_normalize"] = do_normalize
    config_sha = hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.endswith(_UNUSED):
            continue
        flat = tensor.detach().float().flatten().cpu()
        step = max(1, flat.numel() // 1024)
        digest.update(name.encode())
        digest.update(flat[::step][:1024].numpy().tobytes())
    return EncoderIdentity(str(cfg["model_type"]), int(cfg["hidden_size"]), int(cfg["num_hidden_layers"]),
                           config_sha, digest.hexdigest())


class SpeechFeatureStream:
    """16 kHz audio in (any chunks), ``(F, hidden)`` encoder features out, one row per motion frame.

    Frame ``t`` is ready once audio up to ``t * hop + lead`` samples is in (``hop`` = 16000 / fps,
    ``lead`` = half the encoder's receptive field: 200 samples); its window is the ``window``
    samples before that point. ``batch`` windows go through the encoder at once when several
    frames are ready: 1 (the default) gives bit-identical features for any chunking; larger
    batches are faster on a GPU and differ by float rounding (~1e-6).
    """

    def __init__(self, encoder: SpeechEncoder, layers: str = "auto", context_s: float = 1.0, fps: float = 25.0,
                 batch: int = 1):
        hop = WORK_RATE / fps
        if abs(hop - round(hop)) > 1e-9 or round(hop) % encoder.stride:
            raise InputError(f"the speech-encoder features need a frame rate whose frame ({hop:g} samples at "
                             f"16 kHz) is a multiple of the encoder's {encoder.stride}-sample stride (25 or 50 fps)")
        self.encoder = encoder
        self.batch = max(1, int(batch))
        self.layers = layer_range(layers, encoder.identity.num_layers)
        self.hop = int(round(hop))
        self.per_frame = self.hop // encoder.stride
        self.lead = encoder.receptive // 2
        outputs = max(self.per_frame, int(round(context_s * WORK_RATE / encoder.stride)) + 1)
        self.window = encoder.receptive + encoder.stride * (outputs - 1)
        self.buf = np.zeros(0, np.float32)
        self.buf_start = 0  # sample index of buf[0]
        self.n = 0
        self.next_frame = 0

    @property
    def lookahead_s(self) -> float:
        """Audio after a frame's time that its feature depends on."""
        return self.lead / WORK_RATE

    def _windows(self, frames: np.ndarray) -> np.ndarray:
        """``(len(frames), window)`` audio before each frame's ready point; zero outside the clip."""
        s = (frames * self.hop + self.lead - self.window)[:, None] + np.arange(self.window)[None, :]
        src = self.buf if len(self.buf) else np.zeros(1, np.float32)
        inside = (s >= 0) & (s < self.n)
        return np.where(inside, src[np.clip(s - self.buf_start, 0, len(src) - 1)], 0.0).astype(np.float32)

    def push(self, x16: np.ndarray, final: bool = False) -> np.ndarray:
        """Features of every frame that became ready: ``(F, hidden)``; ``final`` pads the end with zeros."""
        x = np.asarray(x16, np.float32)
        self.buf = np.concatenate([self.buf, x])
        self.n += len(x)
        if final:
            end_frame = -(-self.n // self.hop) + 1  # every frame in the clip, and the one after it
        else:
            end_frame = max(self.next_frame, (self.n - self.lead) // self.hop + 1)
        frames = np.arange(self.next_frame, end_frame)
        out = [self.encoder.hidden(self._windows(frames[i:i + self.batch]), self.layers, self.per_frame)
               for i in range(0, len(frames), self.batch)]
        self.next_frame = end_frame
        keep_from = self.next_frame * self.hop + self.lead - self.window
        if keep_from - self.buf_start > 4 * self.window:
            cut = keep_from - self.buf_start
            self.buf = self.buf[cut:]
            self.buf_start += cut
        return np.concatenate(out) if out else np.zeros((0, self.encoder.identity.hidden_size), np.float32)


def speech_frames(samples16k: np.ndarray, frames: int, encoder: SpeechEncoder, layers: str = "auto",
                  context_s: float = 1.0, fps: float = 25.0, batch: int = 1) -> np.ndarray:
    """``(frames, hidden)`` features of a whole clip (a :class:`SpeechFeatureStream` run; training
    uses ``batch`` 16)."""
    stream = SpeechFeatureStream(encoder, layers, context_s, fps, batch)
    feats = np.concatenate([stream.push(samples16k), stream.push(np.zeros(0, np.float32), final=True)])
    if len(feats) < frames:
        feats = np.concatenate([feats, np.repeat(feats[-1:], frames - len(feats), axis=0)])
    return feats[:frames]
