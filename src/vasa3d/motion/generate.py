"""Speech audio -> motion latents, offline (:func:`audio_to_motion`) or chunk by chunk (:class:`MotionStream`).

Offline generation *is* a stream fed in one piece, so the two agree exactly: a frame
at time ``t`` depends only on audio up to ``t + 100 ms``.
"""

from __future__ import annotations

import numpy as np

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES
from vasa3d.errors import InputError
from vasa3d.motion.audio import StreamResampler, as_mono_float
from vasa3d.motion.closure_place import AHEAD as PLACE_AHEAD
from vasa3d.motion.closure_place import default_classifier, onset_features
from vasa3d.motion.config import EMOTION_OFFSETS, EMOTION_POSE, MotionConfig, expand_bilateral
from vasa3d.motion.features import HOP_RATE, N_BANDS, FeatureStream
from vasa3d.motion.head_motion import HeadMotion, pose_vectors
from vasa3d.motion.idle import Blinks, Saccades
from vasa3d.motion.latent import MotionLatent

#: Degrees of eye rotation at an ARKit eyeLook weight of 1.
EYE_YAW_PER_WEIGHT = 30.0
EYE_PITCH_PER_WEIGHT = 25.0

_IDX = ARKIT_INDEX
#: a frame averages the hops within +-20 ms of its time (25 fps frames are 40 ms apart)
_FRAME_HALF_HOPS = 2
#: late reverberation: hops of delay, and its power relative to the earlier sound (RT60 0.5 s)
_REVERB_DELAY = 4
_REVERB_GAIN = 10.0 ** (-60.0 / 0.5 * _REVERB_DELAY / HOP_RATE / 10.0)
#: hops of the mid band's noise-floor window (1.5 s)
_FLOOR_HOPS = 150
#: the closure detector looks this many hops (10 ms) ahead
_DIP_AHEAD_HOPS = 4
#: a dip longer than this many hops is judged again from each later hop (as if it began there)
_DIP_MAX_HOPS = 30


def loudness_mouth(openness: np.ndarray, closure: np.ndarray, max_jaw: float) -> np.ndarray:
    """Mouth weights ``(F, 52)`` from mouth openness and lip closure ``(F,)`` in [0, 1].

    The jaw and lips follow loudness; where ``closure`` is 1 the lips are shut (and pressed
    a little) over a nearly closed jaw, as for /p b m/.
    """
    out = np.zeros((len(openness), len(ARKIT_NAMES)), np.float32)
    m = np.asarray(openness, np.float32)
    c = np.asarray(closure, np.float32)
    jaw = max_jaw * m * (1 - 0.9 * c)
    out[:, _IDX["jawOpen"]] = jaw
    out[:, _IDX["mouthClose"]] = jaw * c
    for side in ("Left", "Right"):
        out[:, _IDX["mouthLowerDown" + side]] = 0.35 * m * (1 - c)
        out[:, _IDX["mouthUpperUp" + side]] = 0.12 * m * (1 - c)
        out[:, _IDX["mouthPress" + side]] = 0.3 * c
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


def emotion_offsets(emotion: str, intensity: float = 1.0) -> np.ndarray:
    """``(52,)`` ARKit weights an emotion adds to the face, scaled by ``intensity``."""
    out = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, w in expand_bilateral(EMOTION_OFFSETS[emotion]).items():
        out[_IDX[name]] += w * intensity
    return out


class MotionStream:
    """Audio in, motion frames out, chunk by chunk.

    Example::

        stream = MotionStream(sample_rate=48000)
        for chunk in chunks:                  # any sizes
            frames = stream.push(chunk)       # MotionLatent with 0 or more new frames
        frames = stream.flush()               # the last frames

    The concatenation of all outputs equals ``audio_to_motion(all_audio, 48000)``.
    A frame at time ``t = i / fps`` is emitted once audio up to ``t + 100 ms`` is in.
    """

    def __init__(self, sample_rate: int, config: MotionConfig | None = None,
                 phonemes: list[tuple[str, float, float]] | None = None):
        self.config = cfg = (config or MotionConfig()).validate()
        if cfg.generator == "diffusion":
            raise InputError("use open_stream() (or DiffusionStream) to stream the diffusion generator")
        as_mono_float(np.zeros(1, np.float32), sample_rate)  # validates the rate
        self.sample_rate = int(sample_rate)
        self.resampler = StreamResampler(self.sample_rate)
        self.features = FeatureStream(cfg.gate_db, cfg.silence_dbfs, bands=cfg.closure_place)
        self.hop_count = 0
        self.hop_base = 0  # hop index of the first hop kept in `self.hist`
        # per-hop histories: smoothed and raw openness, pitch deviation, mid-band dB
        self.hist = {key: np.zeros(0, np.float32)
                     for key in ("env", "open", "f0dev", "mid", "midfloor", "round", "spread")}
        self.hist["bands"] = np.zeros((0, N_BANDS), np.float32)
        # what the closure-place classifier reads besides the bands: formants, voicing and the
        # speaker's running mean log F1 and log F2 (over voiced hops)
        for key in ("f1", "f2", "voiced"):
            self.hist[key] = np.zeros(0, np.float32)
        self.hist["fref"] = np.zeros((0, 2), np.float32)
        self.formant_mean = np.log([500.0, 1500.0])
        self.mid_power_tail = np.zeros(_REVERB_DELAY)  # mid-band power of the last hops
        # noise floor of the mid band: minimum statistics over 1.5 s (as for the loudness)
        self.mid_recent = np.full(_FLOOR_HOPS, -50.0, np.float32)
        self.env = 0.0  # attack/release-smoothed openness
        self.f0_mean = 0.0  # running mean log-pitch of the speaker (semitones re 100 Hz)
        self.n_in = 0
        self.frame = 0
        self.blinks = Blinks(cfg.fps, cfg.blink_rate_per_min, cfg.seed)
        self.saccades = Saccades(cfg.fps, cfg.seed, spread_deg=(4.0 * cfg.motion_intensity,
                                                                  2.5 * cfg.motion_intensity))
        self.head = HeadMotion(cfg.fps, cfg.seed)
        self._apply_controls()
        self.mouth_source = None
        if cfg.generator == "phonetic":
            from vasa3d.motion.phonetic import PhoneticMouth

            if cfg.transcript and phonemes is None:
                raise InputError("a transcript is aligned against the whole clip: use audio_to_motion, "
                                 "or give phone timings to the stream")
            self.mouth_source = PhoneticMouth.create(phonemes, cfg.recognizer == "allphone",
                                                     cfg.pocketsphinx_model)

    def _apply_controls(self) -> None:
        """Emotion, gaze spread, motion intensity and distance from ``self.config`` into the generators."""
        cfg = self.config
        pitch_offset, energy = EMOTION_POSE[cfg.emotion]
        k = cfg.emotion_intensity
        self.head.intensity = cfg.motion_intensity * (1 + (energy - 1) * k)
        self.head.pitch_offset = pitch_offset * k
        self.saccades.spread = np.array([4.0, 2.5]) * cfg.motion_intensity
        self.offsets = emotion_offsets(cfg.emotion, k)
        for name, w in expand_bilateral(cfg.extra).items():
            self.offsets[_IDX[name]] += w
        self.log_scale = -float(np.log(cfg.head_distance))

    def set_controls(self, **controls) -> None:
        """Change control signals from the next frame on (live use), e.g. ``set_controls(emotion="happy")``.

        Accepts the :class:`MotionConfig` fields ``emotion``, ``emotion_intensity``, ``gaze``,
        ``motion_intensity`` and ``head_distance``; they are validated as in the config.
        """
        allowed = {"emotion", "emotion_intensity", "gaze", "motion_intensity", "head_distance"}
        unknown = set(controls) - allowed
        if unknown:
            raise InputError(f"unknown motion control(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(allowed))}")
        import dataclasses

        self.config = dataclasses.replace(self.config, **controls).validate()
        self._apply_controls()

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
        self.hist["env"] = np.concatenate([self.hist["env"], env])
        self.hist["open"] = np.concatenate([self.hist["open"], feats.openness])
        self.hist["f0dev"] = np.concatenate([self.hist["f0dev"], dev])
        mid = self._dereverb(feats.mid)
        from numpy.lib.stride_tricks import sliding_window_view

        window = np.concatenate([self.mid_recent, mid])
        floors = sliding_window_view(window, _FLOOR_HOPS).min(axis=1)[1:].astype(np.float32)
        self.mid_recent = window[-_FLOOR_HOPS:]
        self.hist["mid"] = np.concatenate([self.hist["mid"], mid])
        self.hist["midfloor"] = np.concatenate([self.hist["midfloor"], floors])
        from vasa3d.motion.phonetic import acoustic_shapes

        # the speaker's vocal-tract scale from their running pitch: ~1 for a low voice, 1.16 for a high one
        scale = 1.0 + 0.16 * np.clip((self.f0_mean - 4.0) / 8.0, 0.0, 1.0)
        voiced = (feats.f0 > 0) * np.clip(feats.openness / 0.2, 0, 1)
        rounding, spread = acoustic_shapes(feats.f1, feats.f2, voiced, np.full(len(feats), scale))
        self.hist["round"] = np.concatenate([self.hist["round"], rounding.astype(np.float32)])
        self.hist["spread"] = np.concatenate([self.hist["spread"], spread.astype(np.float32)])
        self.hist["bands"] = np.concatenate([self.hist["bands"], feats.bands])
        if self.config.closure_place:
            fref = np.empty((len(feats), 2), np.float32)
            logs = np.log(np.maximum(np.stack([feats.f1, feats.f2], axis=1).astype(np.float64), 1.0))
            for i in range(len(feats)):
                if feats.f0[i] > 0:
                    self.formant_mean += 0.01 * (logs[i] - self.formant_mean)
                fref[i] = self.formant_mean
            self.hist["f1"] = np.concatenate([self.hist["f1"], feats.f1])
            self.hist["f2"] = np.concatenate([self.hist["f2"], feats.f2])
            self.hist["voiced"] = np.concatenate([self.hist["voiced"], (feats.f0 > 0).astype(np.float32)])
            self.hist["fref"] = np.concatenate([self.hist["fref"], fref])
        self.hop_count += len(feats)

    def _dereverb(self, mid_db: np.ndarray) -> np.ndarray:
        """Subtract an estimate of late reverberation from the mid-band power (per hop).

        The late tail at hop k is taken as the power ``_REVERB_DELAY`` hops earlier, decayed as
        in a room with a 0.5 s reverberation time; what is left keeps at least 5% of the power.
        Stop closures, which reverberation fills in, become dips again.
        """
        p = 10.0 ** (np.asarray(mid_db, np.float64) / 10.0)
        past = np.concatenate([self.mid_power_tail, p])
        late = past[: len(p)] * _REVERB_GAIN
        self.mid_power_tail = past[len(p):][-_REVERB_DELAY:]
        clean = np.maximum(p - late, 0.05 * p)
        return (10.0 * np.log10(clean + 1e-12)).astype(np.float32)

    # ---------------------------------------------------------------- output
    def _frame_hops(self, frames: np.ndarray, lead: float | None = None) -> np.ndarray:
        """``(F, 2 * HALF + 1)`` hop indices around each frame's time, plus ``lead`` (the lip lead)."""
        t = frames / self.config.fps + (self.config.lip_lead_s if lead is None else lead)
        centre = np.round(t * HOP_RATE).astype(int)
        return centre[:, None] + np.arange(-_FRAME_HALF_HOPS, _FRAME_HALF_HOPS + 1)[None, :]

    def _frames_ready(self, final: bool) -> int:
        """Index one past the last frame that can be emitted now."""
        fps = self.config.fps
        if final:
            return max(1, int(np.ceil(self.n_in / self.sample_rate * fps - 1e-6)))
        # a frame needs the hops of its window (led by the lip lead) plus the look-ahead of the
        # closure detector, and its closure hops (not led) the look-ahead of the place classifier
        lead = self.config.lip_lead_s
        last_hop = self.hop_count - 1 - _FRAME_HALF_HOPS
        t_ready = (last_hop - _DIP_AHEAD_HOPS) / HOP_RATE - lead
        if self._judges_dips:
            t_ready = min(t_ready, (last_hop - PLACE_AHEAD) / HOP_RATE)
        ready = int(np.floor(t_ready * fps + 1e-9)) + 1
        if self.mouth_source is not None and self.mouth_source.hops_ready() is not None:
            last_label = self.mouth_source.hops_ready() - 1 - _FRAME_HALF_HOPS
            lead = self.config.lip_lead_s if self.mouth_source.label_lead else 0.0
            ready = min(ready, int(np.floor((last_label / HOP_RATE - lead) * fps + 1e-9)) + 1)
        return max(0, ready)

    @property
    def _judges_dips(self) -> bool:
        """Whether the place classifier weighs the closure dips: when asked, and without phone labels."""
        return self.config.closure_place and not (self.mouth_source is not None and self.mouth_source.has_labels)

    def _closure(self, hops: np.ndarray) -> np.ndarray:
        """Lip closure in [0, 1] per hop: the dip evidence of :meth:`_dip_evidence`, with
        ``closure_place`` weighted by how sure the place classifier (:mod:`vasa3d.motion.closure_place`)
        is that the dip is the lips' (0 well below its threshold, 1 well above).

        Each dip is judged once, from its first hop (or, past ``_DIP_MAX_HOPS``, from the hop that
        many before), so a hop's value depends on the audio alone, not on which hops are asked.
        With phone labels the dips are not judged: the labels shut the lips for /p b m/ themselves
        and the dips add what they miss.
        """
        hops = np.asarray(hops, int)
        if len(hops) == 0:
            return np.zeros(0)
        if not self._judges_dips:
            return self._dip_evidence(hops)
        lo, hi = int(hops.min()) - _DIP_MAX_HOPS, int(hops.max())
        span = np.arange(lo, hi + 1)
        ev = self._dip_evidence(span)
        on = ev > 0
        # index in `span` of the first hop of the run of dip hops that holds each hop
        starts = np.where(on & ~np.concatenate([[False], on[:-1]]), np.arange(len(span)), -1)
        run_start = np.maximum.accumulate(starts)
        pos = hops - lo
        onset = np.maximum(run_start[pos], pos - _DIP_MAX_HOPS) + lo
        out = ev[pos]
        dip = out > 0
        if dip.any():
            uniq, inverse = np.unique(onset[dip], return_inverse=True)
            local = uniq - self.hop_base
            weight = default_classifier().weight(onset_features(self.hist, local))
            out[dip] = out[dip] * weight[inverse]
        return out

    def _dip_evidence(self, hops: np.ndarray) -> np.ndarray:
        """Closure evidence in [0, 1] per hop: a dip of the 0.7-4 kHz loudness below both of
        its sides (120 ms before, 40 ms after), where the sides are speech. The dip must reach
        8-16 dB, or 40-80 % of how far the sides stand above the band's noise floor if that is less."""
        from numpy.lib.stride_tricks import sliding_window_view

        before, ahead = 12, _DIP_AHEAD_HOPS
        k = np.asarray(hops, int) - self.hop_base
        n = len(self.hist["mid"])
        valid = (k >= 0) & (k < n)
        k = np.clip(k, 0, n - 1)
        low = -1e9

        def padded(a: np.ndarray) -> np.ndarray:
            return np.concatenate([np.full(before, low), a.astype(np.float64), np.full(ahead + 1, low)])

        mid, opn = padded(self.hist["mid"]), padded(self.hist["open"])
        left = sliding_window_view(mid, before)[k].max(axis=1)
        right = sliding_window_view(mid, ahead)[k + before + 1].max(axis=1)
        speech = np.minimum(sliding_window_view(opn, before)[k].max(axis=1),
                            sliding_window_view(opn, ahead)[k + before + 1].max(axis=1))
        sides = np.minimum(left, right)
        depth = sides - mid[k + before]
        # in noise a dip cannot be deeper than the speech is above the noise: scale the thresholds
        floor = self.hist["midfloor"][k].astype(np.float64)
        need = np.clip(0.4 * (sides - floor), 3.0, 8.0)
        out = np.clip((depth - need) / need, 0, 1) * np.clip(speech / 0.2, 0, 1)
        return np.where(valid, out, 0.0)

    def _emit(self, final: bool) -> MotionLatent:
        cfg = self.config
        end = self._frames_ready(final)
        frames = np.arange(self.frame, end)
        if len(frames) == 0:
            return MotionLatent(np.zeros((0, 52)), np.zeros((0, 7)), cfg.fps)
        if self.hop_count == 0:  # audio shorter than one hop
            for key in self.hist:
                self.hist[key] = np.zeros((1,) + self.hist[key].shape[1:], np.float32)
            self.hist["mid"][:] = -110.0
            self.hop_count = 1
        hops = np.clip(self._frame_hops(frames), 0, self.hop_count - 1)
        local = hops - self.hop_base
        centre = local[:, _FRAME_HALF_HOPS]
        openness = self.hist["env"][local].mean(axis=1)
        # lips shut where the sound is shut (no lead); the briefest closure between two frames
        # still shows on the nearest frame
        close_hops = np.clip(self._frame_hops(frames, lead=0.0), 0, self.hop_count - 1)
        uniq, inverse = np.unique(close_hops, return_inverse=True)
        closure = self._closure(uniq)[inverse.reshape(close_hops.shape)].max(axis=1)
        # speech presence and syllable onsets, from the hops between frames
        prev = np.clip(centre - int(HOP_RATE * 0.08), 0, None)
        onset = np.clip(self.hist["env"][centre] - self.hist["env"][prev] - 0.15, 0, None)
        activity = (openness > 0.08).astype(np.float64)
        f0_dev = self.hist["f0dev"][centre]

        if self.mouth_source is not None:
            from vasa3d.motion.phonetic import mouth_weights

            rounding = self.hist["round"][local].mean(axis=1)
            spread = self.hist["spread"][local].mean(axis=1)
            labels = None
            if self.mouth_source.has_labels:
                channels = self.mouth_source.labels.channels
                label_hops = hops if self.mouth_source.label_lead else close_hops
                labels = channels(label_hops.reshape(-1)).reshape(*label_hops.shape, -1).mean(axis=1)
                labels[:, 0] = channels(close_hops.reshape(-1))[:, 0].reshape(close_hops.shape).max(axis=1)
            mouth = mouth_weights(openness, closure, rounding, spread, labels, cfg.max_jaw_open)
        else:
            mouth = loudness_mouth(openness, closure, cfg.max_jaw_open)
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
            for key in self.hist:
                self.hist[key] = self.hist[key][cut:]
            self.hop_base += cut


def concat_latents(parts: list[MotionLatent], fps: float) -> MotionLatent:
    """Join motion chunks in time."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return MotionLatent(np.zeros((0, 52)), np.zeros((0, 7)), fps)
    return MotionLatent(np.concatenate([p.z_dyn for p in parts]), np.concatenate([p.z_pose for p in parts]), fps)


def audio_to_motion(samples: np.ndarray, sample_rate: int, config: MotionConfig | None = None,
                    phonemes: list[tuple[str, float, float]] | None = None) -> MotionLatent:
    """Motion latents at ``config.fps`` (25) for speech audio.

    Args:
        samples: ``(N,)`` mono or ``(N, C)`` float audio in [-1, 1] (integer PCM accepted).
        sample_rate: Hz (any rate 4-384 kHz; 16 kHz is used inside).
        config: generator and control signals; :class:`MotionConfig` defaults when None.
            With ``config.transcript`` the phones are force-aligned with pocketsphinx first.
        phonemes: known phone timing ``[(ARPAbet phone, start_s, end_s)]`` (for example from a
            text-to-speech engine, :func:`vasa3d.motion.synth.synthesize` included).

    Returns:
        :class:`MotionLatent` with ``ceil(duration * fps)`` frames: the jaw and lips follow
        speech, silence gives a closed mouth with breathing, blinks and small head motion.

    Raises:
        InputError: empty or corrupt audio, or an impossible sample rate.
    """
    x = as_mono_float(samples, sample_rate)
    if len(x) / sample_rate > 4 * 3600:
        raise InputError(f"the audio is {len(x) / sample_rate / 3600:.1f} hours long; split it below 4 hours")
    config = (config or MotionConfig()).validate()
    if config.generator == "diffusion":
        from vasa3d.motion.diffusion import DiffusionModel, diffusion_motion

        return diffusion_motion(x, sample_rate, DiffusionModel.load(config.diffusion_model), config)
    if config.generator == "phonetic" and config.transcript and phonemes is None:
        from vasa3d.motion.audio import resample
        from vasa3d.motion.phonetic import align_transcript

        phonemes = align_transcript(resample(x, sample_rate), config.transcript, config.pocketsphinx_model)
    stream = MotionStream(sample_rate, config, phonemes)
    return concat_latents([stream.push(x), stream.flush()], stream.config.fps)


def open_stream(sample_rate: int, config: MotionConfig | None = None,
                phonemes: list[tuple[str, float, float]] | None = None):
    """A stream for ``config.generator``: :class:`MotionStream`, or a ``DiffusionStream`` for 'diffusion'.

    Both have ``push(samples) -> MotionLatent`` and ``flush() -> MotionLatent``.
    """
    config = (config or MotionConfig()).validate()
    if config.generator == "diffusion":
        from vasa3d.motion.diffusion import DiffusionModel, DiffusionStream

        return DiffusionStream(DiffusionModel.load(config.diffusion_model), sample_rate, config)
    return MotionStream(sample_rate, config, phonemes)


#: The generators by name, with what each needs (the motion room's backend registry).
GENERATORS: dict[str, str] = {
    "phonetic": "formant lip shapes, closure dips and phone labels; needs nothing (pocketsphinx ships its model)",
    "loudness": "jaw and lip closures from loudness only; needs nothing",
    "diffusion": "a trained diffusion transformer; needs a model file from 'vasa3d train-audio2motion' "
                 "(and, if it was trained on wav2vec2 features, that speech encoder's folder)",
}


class Audio2Motion:
    """A configured audio-to-motion generator, its model (if any) loaded once.

    Example::

        a2m = Audio2Motion(MotionConfig(emotion="happy"))
        motion = a2m(samples, sample_rate)            # offline
        stream = a2m.stream(sample_rate)              # chunk by chunk
    """

    def __init__(self, config: MotionConfig | None = None):
        self.config = (config or MotionConfig()).validate()
        self.model = None
        self.encoder = None
        if self.config.generator == "diffusion":
            from vasa3d.motion.diffusion import DiffusionModel, speech_encoder_for

            self.model = DiffusionModel.load(self.config.diffusion_model)
            self.encoder = speech_encoder_for(self.model, self.config)

    def __call__(self, samples: np.ndarray, sample_rate: int,
                 phonemes: list[tuple[str, float, float]] | None = None) -> MotionLatent:
        if self.model is not None:
            from vasa3d.motion.diffusion import diffusion_motion

            return diffusion_motion(samples, sample_rate, self.model, self.config, self.encoder)
        return audio_to_motion(samples, sample_rate, self.config, phonemes)

    def stream(self, sample_rate: int, phonemes: list[tuple[str, float, float]] | None = None):
        """A :class:`MotionStream` or ``DiffusionStream`` (``push`` / ``flush``)."""
        if self.model is not None:
            from vasa3d.motion.diffusion import DiffusionStream

            return DiffusionStream(self.model, sample_rate, self.config, self.encoder)
        return MotionStream(sample_rate, self.config, phonemes)
