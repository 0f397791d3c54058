"""Measurements of generated motion against audio: lip gap, bilabial closures, loudness correlation,
and the simulated room the lip-sync tests degrade speech with."""

from __future__ import annotations

import numpy as np

from vasa3d.motion.latent import MotionLatent

BILABIALS = ("P", "B", "M")


def lip_gap(motion: MotionLatent) -> np.ndarray:
    """``(T,)`` how far apart the lips are, from the ARKit mouth weights (0 = lips touching).

    The jaw opens the lips unless ``mouthClose`` holds them together; the lower lip pulled
    down and the upper lip raised open them further; pressed or rolled-in lips close them.
    """
    def c(name: str) -> np.ndarray:
        return motion.column(name).astype(np.float64)

    def both(stem: str) -> np.ndarray:
        return 0.5 * (c(stem + "Left") + c(stem + "Right"))

    gap = (np.clip(c("jawOpen") - c("mouthClose"), 0, None) + 0.4 * both("mouthLowerDown")
           + 0.3 * both("mouthUpperUp") + 0.1 * c("mouthFunnel")
           - 0.3 * (c("mouthRollLower") + c("mouthRollUpper")) - 0.3 * both("mouthPress"))
    return np.clip(gap, 0, None)


def closure_hits(gap: np.ndarray, fps: float, phonemes: list[tuple[str, float, float]],
                 tolerance_s: float = 0.04, threshold: float = 0.1,
                 phones: tuple[str, ...] = BILABIALS) -> np.ndarray:
    """For each phone in ``phones``: do the lips close (gap under ``threshold`` of its maximum)
    on some frame within ``tolerance_s`` of the phone's interval? ``(n_phones,)`` bool."""
    closed = gap < threshold * max(float(gap.max()), 1e-9)
    t = np.arange(len(gap)) / fps
    hits = []
    for phone, start, end in phonemes:
        if phone not in phones:
            continue
        near = (t >= start - tolerance_s) & (t <= end + tolerance_s)
        hits.append(bool(np.any(closed & near)))
    return np.asarray(hits, bool)


def closure_events(gap: np.ndarray, threshold: float = 0.1) -> list[tuple[int, int]]:
    """The lip closures of a lip-gap track: ``[(first_frame, end_frame)]``, maximal runs of frames
    whose gap is under ``threshold`` of its maximum (the closed test of :func:`closure_hits`)."""
    closed = np.concatenate([[False], gap < threshold * max(float(gap.max()), 1e-9), [False]])
    edges = np.flatnonzero(np.diff(closed.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def closure_targets(gap: np.ndarray, fps: float, phonemes: list[tuple[str, float, float]],
                    tolerance_s: float = 0.04, threshold: float = 0.1) -> list[str]:
    """What each closure of :func:`closure_events` falls on: "bilabial" when it lies within
    ``tolerance_s`` of a /p b m/ (as :func:`closure_hits` counts a hit), else "silence" when it
    touches a labelled pause (``SIL``) within the same tolerance, else the phone it overlaps most."""
    out = []
    for a, b in closure_events(gap, threshold):
        t0, t1 = a / fps - tolerance_s, (b - 1) / fps + tolerance_s
        over = [(min(end, t1) - max(start, t0), phone) for phone, start, end in phonemes
                if min(end, t1) > max(start, t0)]
        names = {phone for _, phone in over}
        if names & set(BILABIALS):
            out.append("bilabial")
        elif "SIL" in names:
            out.append("silence")
        else:
            out.append(max(over)[1] if over else "?")
    return out


def closure_precision(gap: np.ndarray, fps: float, phonemes: list[tuple[str, float, float]],
                      tolerance_s: float = 0.04, threshold: float = 0.1) -> tuple[int, int]:
    """(closures on a /p b m/ or a pause, all closures): how selective the lips' shutting is."""
    targets = closure_targets(gap, fps, phonemes, tolerance_s, threshold)
    return sum(t in ("bilabial", "silence") for t in targets), len(targets)


def frame_loudness(samples: np.ndarray, sample_rate: int, frames: int, fps: float = 25.0,
                   window_s: float = 0.04) -> np.ndarray:
    """``(frames,)`` RMS of the audio in a window centred on each frame's time."""
    x = np.asarray(samples, np.float64)
    half = int(window_s * sample_rate / 2)
    out = np.zeros(frames)
    for i in range(frames):
        c = int(round(i / fps * sample_rate))
        seg = x[max(0, c - half): c + half]
        out[i] = np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0
    return out


def loudness_correlation(motion: MotionLatent, samples: np.ndarray, sample_rate: int) -> float:
    """Pearson r between the lip gap and the audio's RMS loudness, frame by frame."""
    loud = frame_loudness(samples, sample_rate, len(motion), motion.fps)
    gap = lip_gap(motion)
    if gap.std() < 1e-9 or loud.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(gap, loud)[0, 1])


def simulate_room(samples: np.ndarray, rt60: float = 0.4, snr_db: float | None = 15.0, seed: int = 0,
                  sample_rate: int = 16000) -> np.ndarray:
    """Speech as a distant microphone in a room hears it: reverberation, then white noise.

    The room is an exponentially decaying noise tail (``rt60`` seconds to -60 dB; 0 = none) at a
    direct-to-reverberant ratio of 6 dB; noise is added at ``snr_db`` (None = none). The result
    is peak-normalised to 0.7, float32.
    """
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(seed)
    y = np.asarray(samples, np.float64)
    n = int(rt60 * sample_rate)
    if n > 1:
        ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / sample_rate / rt60)
        ir *= 0.5 / np.sqrt(np.sum(ir[1:] ** 2))
        ir[0] = 1.0
        y = fftconvolve(y, ir)[: len(y)]
    if snr_db is not None:
        y = y + rng.standard_normal(len(y)) * np.sqrt(np.mean(y ** 2) / 10 ** (snr_db / 10))
    return (0.7 * y / max(float(np.abs(y).max()), 1e-12)).astype(np.float32)
