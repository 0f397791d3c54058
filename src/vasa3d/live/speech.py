"""The session's audio timeline: speech waiting to be spoken, and what has been played.

Positions are sample indices on the session's timeline at ``rate`` Hz; position 0 is
the session's start. A chunk pushed at timeline position ``now`` is placed at
``max(now, end of the speech already waiting)``: speech is never sped up or
overlapped, and silence fills every gap (the avatar idles there).
"""

from __future__ import annotations

import math
import threading
from collections import deque

import numpy as np

from vasa3d.errors import InputError


def check_chunk(samples, sample_rate, max_seconds: float) -> np.ndarray:
    """``samples`` as a float32 mono ``(N,)`` array in [-1, 1], or InputError naming what is wrong.

    Accepts ``(N,)`` or ``(N, C)`` float (any range up to +-1, a little clipping is allowed) or
    int16 / int32 PCM.
    """
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise InputError(f"sample rate must be a number of Hz, got {sample_rate!r}") from None
    if not math.isfinite(rate) or rate != int(rate) or not 4000 <= rate <= 384000:
        raise InputError(f"sample rate must be a whole number of Hz from 4000 to 384000, got {sample_rate!r}")
    x = np.asarray(samples)
    if x.dtype == object or x.ndim == 0 or x.ndim > 2:
        raise InputError(f"audio must be an (N,) or (N, channels) array of samples, got shape {x.shape}")
    if x.ndim == 2:
        if x.shape[1] > 16:
            raise InputError(f"audio must be (N, channels) with at most 16 channels, got shape {x.shape}")
    if len(x) > max_seconds * rate:
        raise InputError(f"audio chunk is {len(x) / rate:.1f} s long; push at most {max_seconds:g} s at a time")
    if np.issubdtype(x.dtype, np.integer):
        scale = {1: 128.0, 2: 32768.0, 4: 2147483648.0}.get(x.dtype.itemsize)
        if scale is None:
            raise InputError(f"unsupported integer sample type {x.dtype}; use int16, int32 or float32")
        x = x.astype(np.float32) / scale
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    else:
        raise InputError(f"unsupported sample type {x.dtype}; use float32 or int16")
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size and not np.isfinite(x).all():
        raise InputError("audio chunk holds NaN or infinite samples; send finite samples in [-1, 1]")
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > 4.0:
        raise InputError(f"audio samples reach {peak:.3g}; float samples must lie in [-1, 1] (int16 PCM is also fine)")
    return np.clip(x, -1.0, 1.0)


class SpeechTimeline:
    """Thread-safe timeline of speech segments at ``rate`` Hz.

    ``schedule(x, now)`` places a chunk, ``take(a, b)`` gives the samples of ``[a, b)``
    (speech where scheduled, silence elsewhere) and forgets what lies before ``b``,
    ``cut(pos)`` drops everything from ``pos`` on (barge-in).
    """

    def __init__(self, rate: int, max_queued_s: float):
        self.rate = int(rate)
        self.max_queued = int(max_queued_s * rate)
        self.segments: deque[tuple[int, np.ndarray]] = deque()  # (start, samples), in order
        self.end = 0  # end of the last scheduled segment
        self.lock = threading.Lock()

    def schedule(self, x: np.ndarray, now: int) -> int:
        """Place ``x`` at ``max(now, end)``; returns its start position."""
        with self.lock:
            start = max(int(now), self.end)
            if start + len(x) - int(now) > self.max_queued:
                raise InputError(f"more than {self.max_queued / self.rate:g} s of speech would be waiting; "
                                 "wait for the avatar to speak it, or interrupt()")
            if len(x):
                self.segments.append((start, x))
                self.end = start + len(x)
            return start

    def take(self, a: int, b: int) -> tuple[np.ndarray, bool]:
        """Samples ``[a, b)`` and whether any of them is speech; segments before ``b`` are released."""
        out = np.zeros(max(0, b - a), np.float32)
        speech = False
        with self.lock:
            for start, x in self.segments:
                if start >= b:
                    break
                lo, hi = max(a, start), min(b, start + len(x))
                if hi > lo:
                    out[lo - a : hi - a] = x[lo - start : hi - start]
                    speech = True
            while self.segments and self.segments[0][0] + len(self.segments[0][1]) <= b:
                self.segments.popleft()
        return out, speech

    def cut(self, pos: int) -> bool:
        """Drop all speech from ``pos`` on; True if any was dropped."""
        with self.lock:
            dropped = False
            kept: deque[tuple[int, np.ndarray]] = deque()
            for start, x in self.segments:
                if start + len(x) <= pos:
                    kept.append((start, x))
                    continue
                dropped = True
                if start < pos:
                    kept.append((start, x[: pos - start]))
            self.segments = kept
            self.end = min(self.end, pos) if dropped else self.end
            if not self.segments:
                self.end = min(self.end, pos)
            return dropped

    def queued(self, now: int) -> float:
        """Seconds of speech still to be played after ``now``."""
        with self.lock:
            return max(0, self.end - int(now)) / self.rate


class PlayedAudio:
    """The timeline's samples since the oldest frame not yet shown, so frames can carry their audio."""

    def __init__(self):
        self.base = 0
        self.buf = np.zeros(0, np.float32)
        self.lock = threading.Lock()

    def append(self, x: np.ndarray) -> None:
        with self.lock:
            self.buf = np.concatenate([self.buf, x])

    def slice(self, a: int, b: int) -> np.ndarray:
        """Samples ``[a, b)`` (zeros where not yet there); drops what lies before ``a``."""
        with self.lock:
            out = np.zeros(b - a, np.float32)
            lo, hi = max(a, self.base), min(b, self.base + len(self.buf))
            if hi > lo:
                out[lo - a : hi - a] = self.buf[lo - self.base : hi - self.base]
            if a > self.base:
                drop = min(a - self.base, len(self.buf))
                self.buf = self.buf[drop:]
                self.base += drop
            return out

    def silence_from(self, pos: int, fade: int) -> None:
        """Fade the samples at ``pos`` out over ``fade`` samples and silence the rest (barge-in)."""
        with self.lock:
            k = max(0, pos - self.base)
            if k >= len(self.buf):
                return
            n = min(fade, len(self.buf) - k)
            self.buf = self.buf.copy()
            self.buf[k : k + n] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
            self.buf[k + n :] = 0.0
