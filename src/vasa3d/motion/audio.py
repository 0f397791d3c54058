"""Checking input audio and resampling it to 16 kHz, chunk by chunk.

The resampler is a windowed-sinc polyphase filter whose output depends only on
the input samples, never on how the input was cut into chunks, so that the
streaming and offline motion generators see identical audio.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from vasa3d.errors import InputError

#: The rate the motion features and pocketsphinx work at.
WORK_RATE = 16000


def as_mono_float(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Validate audio and return it as float32 mono in [-1, 1].

    Args:
        samples: ``(N,)`` mono, or ``(N, C)`` / ``(C, N)`` with at most 8 channels;
            float in [-1, 1] or integer PCM.
        sample_rate: samples per second (4 kHz to 384 kHz).

    Raises:
        InputError: empty, non-finite, or with an unusable rate or shape.
    """
    x = np.asarray(samples)
    if not isinstance(sample_rate, (int, np.integer)) and not float(sample_rate).is_integer():
        raise InputError(f"audio sample rate must be a whole number of Hz, got {sample_rate}")
    sample_rate = int(sample_rate)
    if not 4000 <= sample_rate <= 384000:
        raise InputError(f"audio sample rate {sample_rate} Hz is outside 4-384 kHz; resample the audio")
    if x.ndim == 2:
        if x.shape[1] <= 8 and x.shape[0] >= x.shape[1]:
            x = x.mean(axis=1) if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64).mean(axis=1)
        elif x.shape[0] <= 8:
            x = x.mean(axis=0) if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64).mean(axis=0)
        else:
            raise InputError(f"audio must be mono or have at most 8 channels, got shape {x.shape}")
    elif x.ndim != 1:
        raise InputError(f"audio must be a 1-D or 2-D array of samples, got shape {x.shape}")
    if x.size == 0:
        raise InputError("the audio is empty (0 samples); give a recording with speech")
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        x = x.astype(np.float64) / max(abs(info.min), info.max)
    elif not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"audio samples must be numbers, got dtype {x.dtype}")
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise InputError("the audio contains NaN or infinite samples; it is corrupt")
    return np.clip(x, -1.0, 1.0)


class StreamResampler:
    """Resample a stream from ``rate_in`` to ``rate_out`` Hz, chunk by chunk.

    ``push(x)`` returns every output sample whose filter support is complete;
    ``flush()`` returns the rest (the input is taken to be followed by zeros).
    Concatenated outputs do not depend on the chunking.
    """

    def __init__(self, rate_in: int, rate_out: int = WORK_RATE, half_taps: int = 16):
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.identity = rate_in == rate_out
        cutoff = min(1.0, rate_out / rate_in) * 0.92  # relative to the input Nyquist
        # half-width of the filter in input samples: `half_taps` zero crossings of the cutoff sinc
        self.half = int(np.ceil(half_taps / cutoff))
        offsets = np.arange(-self.half + 1, self.half + 1)  # input index minus floor(position)
        phases = (np.arange(self.up) * self.down % self.up) / self.up  # frac(position) of each phase
        d = offsets[None, :] - phases[:, None]
        window = np.cos(0.5 * np.pi * d / (self.half + 1)) ** 2
        self.weights = (cutoff * np.sinc(cutoff * d) * window).astype(np.float32)  # (up, 2*half)
        self.weights /= self.weights.sum(axis=1, keepdims=True)
        self.offsets = offsets
        self.buf = np.zeros(self.half, np.float32)  # history; buf[0] is input index `buf_start`
        self.buf_start = -self.half
        self.n_in = 0
        self.n_out = 0

    def _emit(self, available: int) -> np.ndarray:
        """Outputs n with floor(n * down / up) + half < available (input indices)."""
        if self.identity:
            out = self.buf[self.n_out - self.buf_start: available - self.buf_start]
            self.n_out = available
            return out.copy()
        last_base = available - self.half - 1
        if last_base < 0:
            return np.zeros(0, np.float32)
        n_end = (last_base * self.up) // self.down + 1  # outputs n with floor(n*down/up) <= last_base
        while n_end > 0 and ((n_end - 1) * self.down) // self.up > last_base:
            n_end -= 1
        if n_end <= self.n_out:
            return np.zeros(0, np.float32)
        n = np.arange(self.n_out, n_end)
        base = (n * self.down) // self.up
        phase = n % self.up
        idx = base[:, None] + self.offsets[None, :] - self.buf_start
        out = np.einsum("nk,nk->n", self.buf[idx], self.weights[phase]).astype(np.float32)
        self.n_out = n_end
        return out

    def _trim(self) -> None:
        keep_from = (self.n_out * self.down) // self.up - self.half - 1 if not self.identity else self.n_out
        cut = keep_from - self.buf_start
        if cut > 4096:
            self.buf = self.buf[cut:]
            self.buf_start += cut

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        self.buf = np.concatenate([self.buf, x])
        self.n_in += len(x)
        out = self._emit(self.n_in)
        self._trim()
        return out

    def flush(self) -> np.ndarray:
        """The remaining outputs up to the end of the input."""
        total_out = int(np.ceil(self.n_in * self.up / self.down))
        pad = np.zeros(self.half + 2, np.float32)
        self.buf = np.concatenate([self.buf, pad])
        out = self._emit(self.n_in + len(pad))
        return out[: max(0, total_out - (self.n_out - len(out)))]


def resample(samples: np.ndarray, rate_in: int, rate_out: int = WORK_RATE) -> np.ndarray:
    """Offline resampling of float32 mono audio; equals a :class:`StreamResampler` run."""
    r = StreamResampler(rate_in, rate_out)
    return np.concatenate([r.push(samples), r.flush()])
