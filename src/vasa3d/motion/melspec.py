"""Log-mel audio features per motion frame, computed causally chunk by chunk (the diffusion generator's input).

Hops of 10 ms, 25 ms Hann windows, 40 mel bands from 60 Hz to 7.6 kHz at 16 kHz. A motion frame
``t`` (time ``t / 25``) takes the 4 hops ending at its time, flattened to 160 numbers, so it needs
audio up to ``t / 25 + 12.5 ms`` only.
"""

from __future__ import annotations

import numpy as np

from vasa3d.motion.audio import WORK_RATE

N_MELS = 40
HOPS_PER_FRAME = 4
FRAME_DIM = N_MELS * HOPS_PER_FRAME
_HOP = WORK_RATE // 100
_WIN = 400
_NFFT = 512


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = _NFFT, sr: int = WORK_RATE, fmin: float = 60.0,
                   fmax: float = 7600.0) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters on the mel scale (2595 log10(1 + f / 700))."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    return np.clip(np.minimum(up, down), 0, None).astype(np.float32)


class LogMelStream:
    """16 kHz audio in (any chunks), ``(F, 160)`` log-mel frame features out, for 25 fps frames."""

    def __init__(self, fps: float = 25.0):
        if abs(100.0 / fps - round(100.0 / fps)) > 1e-9:
            raise ValueError("the log-mel features need a frame rate that divides 100 Hz (25, 50, 100)")
        self.hops_per_frame = int(round(100.0 / fps))
        self.fb = mel_filterbank()
        self.window = np.hanning(_WIN).astype(np.float32)
        self.buf = np.zeros(_WIN // 2, np.float32)  # starts at sample -200
        self.buf_start = -_WIN // 2
        self.n = 0
        self.hops: list[np.ndarray] = []  # log-mel of hops not yet used by a frame
        self.next_hop = 0
        self.first_kept_hop = 0
        self.next_frame = 0

    def _hop_features(self, last: int) -> None:
        ks = np.arange(self.next_hop, last + 1)
        if len(ks) == 0:
            return
        starts = ks * _HOP - _WIN // 2 - self.buf_start
        seg = self.buf[starts[:, None] + np.arange(_WIN)[None, :]] * self.window
        power = np.abs(np.fft.rfft(seg, _NFFT, axis=1)) ** 2
        logmel = np.log10(power @ self.fb.T + 1e-8).astype(np.float32)
        self.hops.extend(logmel)
        self.next_hop = last + 1

    def push(self, x16: np.ndarray, final: bool = False) -> np.ndarray:
        """Returns the features of every frame that became complete: ``(F, 160)``."""
        x = np.asarray(x16, np.float32)
        self.buf = np.concatenate([self.buf, x])
        self.n += len(x)
        if final:
            self.buf = np.concatenate([self.buf, np.zeros(_WIN + (self.hops_per_frame + 1) * _HOP, np.float32)])
            last = (self.n - 1) // _HOP + self.hops_per_frame
        else:
            last = (self.n - _WIN // 2) // _HOP
        self._hop_features(last)
        out = []
        while True:
            t = self.next_frame
            needed_last = t * self.hops_per_frame  # hops t*k-3 .. t*k
            if needed_last > self.next_hop - 1:
                break
            idx = np.arange(needed_last - HOPS_PER_FRAME + 1, needed_last + 1)
            rows = [self.hops[i - self.first_kept_hop] if i >= 0 else np.full(N_MELS, -8.0, np.float32)
                    for i in idx]
            out.append(np.concatenate(rows))
            self.next_frame += 1
        drop = (self.next_frame * self.hops_per_frame - HOPS_PER_FRAME) - self.first_kept_hop
        if drop > 256:
            del self.hops[:drop]
            self.first_kept_hop += drop
            cut = self.next_hop * _HOP - _WIN - self.buf_start
            if cut > 0:
                self.buf = self.buf[cut:]
                self.buf_start += cut
        return np.stack(out) if out else np.zeros((0, FRAME_DIM), np.float32)


def logmel_frames(samples16k: np.ndarray, frames: int, fps: float = 25.0) -> np.ndarray:
    """``(frames, 160)`` features of a whole clip (equal to a :class:`LogMelStream` run)."""
    stream = LogMelStream(fps)
    feats = np.concatenate([stream.push(samples16k), stream.push(np.zeros(0, np.float32), final=True)])
    if len(feats) < frames:
        pad = np.repeat(feats[-1:] if len(feats) else np.full((1, FRAME_DIM), -8.0, np.float32),
                        frames - len(feats), axis=0)
        feats = np.concatenate([feats, pad])
    return feats[:frames]
