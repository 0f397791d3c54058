"""Speech audio -> motion latents, offline (:func:`audio_to_motion`) or chunk by chunk (:class:`MotionStream`).

Offline generation *is* a stream fed in one piece, so the two agree exactly: a frame
at time ``t`` depends only on audio up to ``t + lookahead_s`` (100 ms by default).
"""

from __future__ import annotations

import numpy as np

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES
from vasa3d.errors import InputError
from vasa3d.motion.audio import StreamResampler, as_mono_float
from vasa3d.motion.config import EMOTION_OFFSETS, EMOTION_POSE, MotionConfig, expand_bilateral
from vasa3d.motion.features import HOP_RATE, FeatureStream, HopFeatures
from vasa3d.motion.head_motion import HeadMotion, pose_vectors
from vasa3d.motion.idle import Blinks, Saccades
from vasa3d.motion.latent import MotionLatent

#: Degrees of eye rotation at an ARKit eyeLook weight of 1.
EYE_YAW_PER_WEIGHT = 30.0
EYE_PITCH_PER_WEIGHT = 25.0

_IDX = ARKIT_INDEX


def loudness_mouth(openness: np.ndarray, max_jaw: float) -> np.ndarray:
    """Mouth weights ``(F, 52)`` from mouth openness ``(F,)`` in [0, 1] (jaw and lips follow loudness)."""
    out = np.zeros((len(openness), len(ARKIT_NAMES)), np.float32)
    m = np.asarray(openness, np.float32)
    out[:, _IDX["jawOpen"]] = max_jaw * m
    for side in ("Left", "Right"):
        out[:, _IDX["mouthLowerDown" + side]] = 0.35 * m
        out[:, _IDX["mouthUpperUp" + side]] = 0.12 * m
    return out


def eye_weights(gaze_deg: np.ndarray, blink: np.ndarray) -> np.ndarray:
    """ARKit eye weights ``(F, 52)`` from gaze ``(F, 2)`` (yaw toward the subject's left, pitch up; degrees
    relative to the head) and blink ``(F,)``. Lids follow the gaze down a little, as real lids do."""
    out = np.zeros((len(blink), len(ARKIT_NAMES)), np.float32)
    h = gaze_deg[:, 0] / EYE_YAW_PER_WEIGHT
    v = gaze_deg[:, 1] / EYE_PITCH_PER_WEIGHT
    left, right = np.clip(h, 0, 1), np.clip(-h, 0, 1)
    # looking toward the subject's left: the left eye turns out, the right eye turns in
    out[:, _IDX["eyeLookOutLeft"]] = left
    out[:, _IDX["eyeLookInRight"]] = left
    out[:, _IDX["eyeLookInLeft"]] = right
    out[:, _IDX["eyeLookOutRight"]] = right
    up, down = np.clip(v, 0, 1), np.clip(-v, 0, 1)
    for side in ("Left", "Right"):
        out[:, _IDX["eyeLookUp" + side]] = up
        out[:, _IDX["eyeLookDown" + side]] = down
        out[:, _IDX["eyeBlink" + side]] = np.clip(blink + 0.3 * down, 0, 1)
    return out


class MotionStream:
    """Audio in, motion frames out, chunk by chunk.

    Example::

        stream = MotionStream(sample_rate=48000)
        for chunk in chunks:                  # any sizes
            frames = stream.push(chunk)       # MotionLatent with 0 or more new frames
        frames = stream.flush()               # the last frames

    The concatenation of all outputs equals ``audio_to_motion(all_audio, 48000)``.
    A frame at time ``t = i / fps`` is emitted once audio up to ``t + lookahead_s`` is in.
    """

    def __init__(self, sample_rate: int, config: MotionConfig | None = None):
        self.config = cfg = (config or MotionConfig()).validate()
        as_mono_float(np.zeros(1, np.float32), sample_rate)  # validates the rate
        self.sample_rate = int(sample_rate)
        self.resampler = StreamResampler(self.sample_rate)
        self.features = FeatureStream(cfg.gate_db, cfg.silence_dbfs)
        self.hops: list[HopFeatures] = []
        self.hop_count = 0
        self.hop_base = 0  # hop index of the first hop kept in `self.hop_cache`
        self.hop_cache = HopFeatures.empty()
        self.env = 0.0  # attack/release-smoothed openness, per hop
        self.env_hist = np.zeros(0, np.float32)  # smoothed openness of every kept hop
        self.f0_mean = 0.0  # running mean log-pitch of the speaker (semitones re 100 Hz)
        self.f0_hist = np.zeros(0, np.float32)
        self.n_in = 0
        self.frame = 0
        self.blinks = Blinks(cfg.fps, cfg.blink_rate_per_min, cfg.seed)
        self.saccades = Saccades(cfg.fps, cfg.seed, spread_deg=(4.0 * cfg.motion_intensity,
                                                                  2.5 * cfg.motion_intensity))
        pitch_offset, energy = EMOTION_POSE[cfg.emotion]
        k = cfg.emotion_intensity
        self.head = HeadMotion(cfg.fps, cfg.seed, cfg.motion_intensity * (1 + (energy - 1) * k),
                               pitch_offset * k)
        self.offsets = np.zeros(len(ARKIT_NAMES), np.float32)
        for name, w in expand_bilateral(EMOTION_OFFSETS[cfg.emotion]).items():
            self.offsets[_IDX[name]] += w * k
        for name, w in expand_bilateral(cfg.extra).items():
            self.offsets[_IDX[name]] += w
        self.log_scale = -float(np.log(cfg.head_distance))
        self.mouth_source = None
        if cfg.generator == "phonetic":
            from vasa3d.motion.phonetic import PhoneticMouth

            self.mouth_source = PhoneticMouth(cfg)

    # ----------------------------------------------------------------- input
    def push(self, samples: np.ndarray) -> MotionLatent:
        """Feed the next chunk (``(N,)`` or ``(N, C)`` at ``sample_rate``); returns the new frames."""
        x = np.asarray(samples)
        if x.size == 0:
            return self._emit(final=False)
        x = as_mono_float(x, self.sample_rate)
        self.n_in += len(x)
        self._take(self.resampler.push(x), final=False)
        return self._emit(final=False)

    def flush(self) -> MotionLatent:
        """End of audio: the remaining frames (at least one frame in all)."""
        self._take(self.resampler.flush(), final=True)
        return self._emit(final=True)

    def _take(self, x16: np.ndarray, final: bool) -> None:
        feats = self.features.push(x16, final=final)
        if self.mouth_source is not None:
            self.mouth_source.push(x16, final=final)
        if len(feats) == 0:
            return
        cfg = self.config
        a_att = 1 - np.exp(-1.0 / (HOP_RATE * cfg.attack_s))
        a_rel = 1 - np.exp(-1.0 / (HOP_RATE * cfg.release_s))
        env = np.empty(len(feats), np.float32)
        for i, o in enumerate(feats.openness):
            a = a_att if o > self.env else a_rel
            self.env += a * (float(o) - self.env)
            env[i] = self.env
        semis = np.where(feats.f0 > 0, 12 * np.log2(np.maximum(feats.f0, 1) / 100.0), np.nan)
        dev = np.zeros(len(feats), np.float32)
        for i, s in enumerate(semis):
            if np.isfinite(s):
                self.f0_mean = s if self.f0_mean == 0.0 else self.f0_mean + 0.01 * (s - self.f0_mean)
                dev[i] = s - self.f0_mean
        self.hop_cache = HopFeatures.concat([self.hop_cache, feats])
        self.env_hist = np.concatenate([self.env_hist, env])
        self.f0_hist = np.concatenate([self.f0_hist, dev])
        self.hop_count += len(feats)

    # ---------------------------------------------------------------- output
    def _frames_ready(self, final: bool) -> int:
        """Index one past the last frame that can be emitted now."""
        fps = self.config.fps
        if final:
            return max(1, int(np.ceil(self.n_in / self.sample_rate * fps - 1e-6)))
        # frame i reads hop round((i/fps + lead) * 100) and the mouth source up to i/fps + lookahead
        ready = int(np.floor(((self.hop_count - 1) / HOP_RATE - self.config.lip_lead_s) * fps)) + 1
        if self.mouth_source is not None:
            ready = min(ready, self.mouth_source.frames_ready(fps))
        return max(0, ready)

    def _emit(self, final: bool) -> MotionLatent:
        cfg = self.config
        end = self._frames_ready(final)
        frames = np.arange(self.frame, end)
        if len(frames) == 0:
            return MotionLatent(np.zeros((0, 52)), np.zeros((0, 7)), cfg.fps)
        if self.hop_count == 0:  # audio shorter than one hop
            self.env_hist = np.zeros(1, np.float32)
            self.f0_hist = np.zeros(1, np.float32)
            self.hop_cache = HopFeatures(*(np.zeros(1, np.float32) for _ in range(4)))
            self.hop_count = 1
        t = frames / cfg.fps
        hop = np.clip(np.round((t + cfg.lip_lead_s) * HOP_RATE).astype(int), 0, self.hop_count - 1)
        local = hop - self.hop_base
        openness = self.env_hist[local]
        # speech presence and syllable onsets, from the hops between frames
        prev = np.clip(local - int(HOP_RATE * 0.08), 0, None)
        onset = np.clip(self.env_hist[local] - self.env_hist[prev] - 0.15, 0, None)
        activity = (openness > 0.08).astype(np.float64)
        f0_dev = self.f0_hist[local]

        if self.mouth_source is not None:
            mouth = self.mouth_source.weights(frames, openness, cfg)
        else:
            mouth = loudness_mouth(openness, cfg.max_jaw_open)
        angles, shift = self.head.step(frames, activity, onset, f0_dev)
        blink = self.blinks.values(frames)
        gaze = np.asarray(cfg.gaze)[None, :] + self.saccades.values(frames)
        # the eyes hold the viewer while the head turns (vestibulo-ocular reflex), in part
        gaze = gaze - 0.6 * angles[:, :2]
        z_dyn = mouth + eye_weights(gaze, blink) + self.offsets[None, :]
        z_pose = pose_vectors(angles, shift, self.log_scale)
        self.frame = end
        self._trim()
        return MotionLatent(np.clip(z_dyn, 0.0, 1.0), z_pose, cfg.fps)

    def _trim(self) -> None:
        keep_from = int(self.frame / self.config.fps * HOP_RATE) - 50
        cut = keep_from - self.hop_base
        if cut > 1000:
            self.env_hist = self.env_hist[cut:]
            self.f0_hist = self.f0_hist[cut:]
            self.hop_cache = HopFeatures(*(getattr(self.hop_cache, f)[cut:] for f in ("db", "openness", "f0", "hf")))
            self.hop_base += cut


def concat_latents(parts: list[MotionLatent], fps: float) -> MotionLatent:
    """Join motion chunks in time."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return MotionLatent(np.zeros((0, 52)), np.zeros((0, 7)), fps)
    return MotionLatent(np.concatenate([p.z_dyn for p in parts]), np.concatenate([p.z_pose for p in parts]), fps)


def audio_to_motion(samples: np.ndarray, sample_rate: int, config: MotionConfig | None = None) -> MotionLatent:
    """Motion latents at ``config.fps`` (25) for speech audio.

    Args:
        samples: ``(N,)`` mono or ``(N, C)`` float audio in [-1, 1] (integer PCM accepted).
        sample_rate: Hz (any rate 4-384 kHz; 16 kHz is used inside).
        config: generator and control signals; :class:`MotionConfig` defaults when None.

    Returns:
        :class:`MotionLatent` with ``ceil(duration * fps)`` frames: the jaw and lips follow
        speech, silence gives a closed mouth with breathing, blinks and small head motion.

    Raises:
        InputError: empty or corrupt audio, or an impossible sample rate.
    """
    x = as_mono_float(samples, sample_rate)
    if len(x) / sample_rate > 4 * 3600:
        raise InputError(f"the audio is {len(x) / sample_rate / 3600:.1f} hours long; split it below 4 hours")
    stream = MotionStream(sample_rate, config)
    return concat_latents([stream.push(x), stream.flush()], stream.config.fps)
