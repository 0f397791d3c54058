"""Settings of the audio-to-motion generators and the control signals of VASA-1 (paper, section 4.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from vasa3d.errors import InputError

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised")

#: ARKit weight offsets of each emotion at intensity 1 (bilateral names are expanded to both sides).
EMOTION_OFFSETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmile": 0.55, "cheekSquint": 0.35, "eyeSquint": 0.2, "mouthDimple": 0.15,
              "browOuterUp": 0.1},
    "sad": {"mouthFrown": 0.45, "browInnerUp": 0.55, "mouthShrugLower": 0.2, "eyeSquint": 0.1,
            "mouthPress": 0.1},
    "angry": {"browDown": 0.65, "noseSneer": 0.35, "eyeSquint": 0.3, "mouthPress": 0.2,
              "mouthStretch": 0.1},
    "surprised": {"browInnerUp": 0.6, "browOuterUp": 0.6, "eyeWide": 0.55, "jawOpen": 0.08,
                  "mouthFunnel": 0.1},
}

#: Head pitch offset in degrees (positive = chin up) and motion-energy factor of each emotion.
EMOTION_POSE: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 1.0), "happy": (2.0, 1.2), "sad": (-5.0, 0.6), "angry": (-2.0, 1.3),
    "surprised": (3.0, 1.1),
}


@dataclass
class MotionConfig:
    """How speech becomes motion latents.

    The defaults are tuned on recorded and synthesized speech; the control fields
    (``emotion`` to ``seed``) are the control signals of VASA-1 that VASA-3D inherits.
    """

    generator: Literal["phonetic", "loudness", "diffusion"] = "phonetic"
    """'phonetic': visemes from formants, closures and phone labels, jaw from loudness; 'loudness': jaw and
    lips follow loudness only; 'diffusion': a trained diffusion transformer (needs diffusion_model)."""
    diffusion_model: str | None = None
    """Model file of the 'diffusion' generator (made by 'vasa3d train-audio2motion')."""
    speech_encoder: str = ""
    """Folder of the wav2vec2 / HuBERT / WavLM checkpoint (config.json + model.safetensors or
    pytorch_model.bin) that a diffusion model trained on wav2vec2 features needs; read offline."""
    recognizer: Literal["none", "allphone"] = "none"
    """Phone labels for the phonetic generator when no transcript or timing is given: 'allphone' runs
    pocketsphinx phone recognition (streams, ~20-35x real time), 'none' uses acoustic shapes only."""
    closure_place: bool = True
    """Judge each lip-closure dip with the closure-place classifier (``vasa3d.motion.closure_place``)
    and shut the lips less where it hears /t d k g n/ rather than /p b m/ or a pause (unlabelled
    speech only; on real speech 46 in 100 closures land on /p b m/ or pauses instead of 35, and the
    lips shut 3.6 times a second instead of 4.8). Off: every sharp dip in the lip band shuts them."""
    fps: float = 25.0
    """Motion frames per second."""
    emotion: str = "neutral"
    """Emotion offset: neutral, happy, sad, angry or surprised."""
    emotion_intensity: float = 1.0
    """Strength of the emotion offset, 0 (none) to 1 (full) and a little beyond."""
    gaze: tuple[float, float] = (0.0, 0.0)
    """Mean gaze direction relative to the head, degrees (yaw toward the subject's left, pitch up)."""
    head_distance: float = 1.0
    """Head distance relative to the portrait's: 2 looks twice as far (smaller), 0.8 closer."""
    motion_intensity: float = 1.0
    """Scales head motion, gaze saccades and speech-driven nods (0 = still head)."""
    seed: int = 0
    """Random seed of blinks, saccades and idle motion."""
    transcript: str | None = None
    """What is said, when known: phonemes are then force-aligned instead of recognised."""
    lip_lead_s: float = 0.02
    """The mouth leads the sound by this much, as lips do in real speech (0-20 ms: a frame then
    depends on at most 100 ms of audio after it)."""
    attack_s: float = 0.02
    """Time constant of the mouth opening as loudness rises."""
    release_s: float = 0.05
    """Time constant of the mouth closing as loudness falls."""
    gate_db: float = 9.0
    """Loudness must exceed the tracked noise floor by this many dB to open the mouth."""
    silence_dbfs: float = -55.0
    """Anything quieter than this (dB full scale) is silence."""
    max_jaw_open: float = 0.55
    """jawOpen at the loudest speech."""
    blink_rate_per_min: float = 16.0
    """Mean blinks per minute (people blink 12-20 times a minute while talking)."""
    pocketsphinx_model: str | None = None
    """Directory of a pocketsphinx acoustic model; None = the English model bundled with pocketsphinx."""
    extra: dict[str, float] = field(default_factory=dict)
    """Constant ARKit weight offsets added to every frame (name -> weight)."""

    def validate(self) -> "MotionConfig":
        if self.emotion not in EMOTIONS:
            raise InputError(f"unknown emotion '{self.emotion}'; choose one of {', '.join(EMOTIONS)}")
        if not 0.0 <= self.emotion_intensity <= 2.0:
            raise InputError(f"emotion intensity must be between 0 and 2, got {self.emotion_intensity}")
        if not 0.05 <= self.head_distance <= 20.0:
            raise InputError(f"head distance must be between 0.05 and 20, got {self.head_distance}")
        if not 0.0 <= self.motion_intensity <= 5.0:
            raise InputError(f"motion intensity must be between 0 and 5, got {self.motion_intensity}")
        if not 1.0 <= self.fps <= 240.0:
            raise InputError(f"motion fps must be between 1 and 240, got {self.fps}")
        if not 0.0 <= self.lip_lead_s <= 0.02:
            raise InputError(f"lip lead must be between 0 and 0.02 s, got {self.lip_lead_s}")
        if self.recognizer not in ("none", "allphone"):
            raise InputError(f"unknown phone recognizer '{self.recognizer}'; use none or allphone")
        if self.generator not in ("phonetic", "loudness", "diffusion"):
            raise InputError(f"unknown motion generator '{self.generator}'; use phonetic, loudness or diffusion")
        if self.generator == "diffusion" and not self.diffusion_model:
            raise InputError("the diffusion generator needs a model file: train one with "
                             "'vasa3d train-audio2motion' and pass --diffusion-model")
        if self.speech_encoder and self.generator != "diffusion":
            raise InputError("a speech encoder (--speech-encoder) is only read by the diffusion generator")
        gaze = tuple(float(g) for g in self.gaze)
        if len(gaze) != 2 or abs(gaze[0]) > 40 or abs(gaze[1]) > 30:
            raise InputError(f"gaze must be (yaw, pitch) degrees within +-40 and +-30, got {self.gaze}")
        self.gaze = gaze  # type: ignore[assignment]
        self.seed = int(self.seed) % (2 ** 32)
        return self


def expand_bilateral(offsets: dict[str, float]) -> dict[str, float]:
    """{'mouthSmile': w} -> {'mouthSmileLeft': w, 'mouthSmileRight': w}; other names kept."""
    from vasa3d.arkit import ARKIT_INDEX

    out: dict[str, float] = {}
    for name, w in offsets.items():
        if name in ARKIT_INDEX:
            out[name] = out.get(name, 0.0) + w
        elif name + "Left" in ARKIT_INDEX:
            out[name + "Left"] = out.get(name + "Left", 0.0) + w
            out[name + "Right"] = out.get(name + "Right", 0.0) + w
        else:
            raise InputError(f"unknown ARKit blendshape '{name}'")
    return out


@dataclass
class DiffusionConfig:
    """Shape and sampling of the motion diffusion transformer."""

    window: int = 2
    """Frames generated per step (2 = 80 ms at 25 fps)."""
    context: int = 8
    """Previous frames the model sees for continuity."""
    audio_ahead: int = 1
    """Frames of audio after the window that the model may hear."""
    d_model: int = 128
    """Transformer width."""
    layers: int = 4
    """Transformer layers."""
    heads: int = 4
    """Attention heads."""
    train_steps: int = 100
    """Noise levels of the diffusion process."""
    sample_steps: int = 8
    """DDIM steps when generating."""
    cfg_scale: float = 1.5
    """Classifier-free guidance scale (1 = no guidance)."""
    p_uncond: float = 0.1
    """Probability of dropping the audio and controls in training."""
    fps: float = 25.0
    """Motion frame rate."""
    features: Literal["logmel", "wav2vec2"] = "logmel"
    """Audio features: 'logmel' (40 bands, needs nothing) or 'wav2vec2' (hidden states of a user-supplied
    wav2vec2 / HuBERT / WavLM encoder, --speech-encoder)."""
    speech_layers: str = "auto"
    """wav2vec2 features: hidden states averaged over these layers: 'auto' (ceil(L/2) to ceil(3L/4), 6-9 of 12),
    'K' or 'A-B' (1 = first transformer layer's output)."""
    speech_context_s: float = 1.0
    """wav2vec2 features: seconds of past audio in each frame's encoder window (cost grows with it)."""

    def validate(self) -> "DiffusionConfig":
        if self.features not in ("logmel", "wav2vec2"):
            raise InputError(f"unknown audio features '{self.features}'; use logmel or wav2vec2")
        if not re.fullmatch(r"\s*(auto|\d+(\s*-\s*\d+)?)\s*", self.speech_layers.lower()):
            raise InputError(f"speech layers must be 'auto', a layer number or a range like '6-9', "
                             f"got '{self.speech_layers}'")
        if not 0.1 <= self.speech_context_s <= 10.0:
            raise InputError(f"speech context must be between 0.1 and 10 s, got {self.speech_context_s}")
        return self


@dataclass
class TrainAudio2MotionConfig:
    """Optimisation of the audio-to-motion diffusion model."""

    steps: int = 20000
    """Optimizer steps."""
    batch: int = 64
    """Windows per step."""
    lr: float = 3e-4
    """Adam learning rate."""
    checkpoint_every: int = 1000
    """Write the model and optimizer state every this many steps."""
    seed: int = 0
    """Seed of the window sampling and the noise."""
    speech_encoder: str = ""
    """Folder of the wav2vec2 / HuBERT / WavLM checkpoint for --features wav2vec2 (read offline)."""
