"""Per-hop audio features at 100 Hz, computed causally chunk by chunk.

Every feature of hop ``k`` (centred at ``k * 10 ms``) depends only on audio up to
``k * 10 ms + 12.5 ms``, so the streaming and offline generators agree exactly.

Features:
    db: loudness of the 150 Hz - 4 kHz band, dB full scale (``(K,)``).
    openness: speech loudness normalised to [0, 1] against a tracked noise floor
        and speech level (robust to gain, background noise and slow level changes).
    f0: pitch in Hz, 0 where unvoiced (autocorrelation with parabolic refinement).
    hf: share of energy above 3 kHz (fricatives), [0, 1].
    mid: loudness of the 700 Hz - 4 kHz band, dB: where the lips shape the sound (it drops
        sharply while they are shut, even under the low murmur of /m/ or a voice bar).
    f1, f2: first and second formant frequencies in Hz (LPC, order 10 at 8 kHz); meaningful
        where voiced. A low F2 with a low F1 means rounded lips, a high F2 spread lips.
    bands: ``(K, 12)`` loudness of 12 mel-spaced bands from 100 Hz to 7.6 kHz, dB (the spectrum
        the closure-place classifier of :mod:`vasa3d.motion.closure_place` reads).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from vasa3d.motion.audio import WORK_RATE

HOP = WORK_RATE // 100  # 10 ms
HALF_WIN = 200  # 25 ms window
PITCH_HALF = 320  # 40 ms pitch window
HOP_RATE = 100.0
PITCH_RATE = WORK_RATE // 2
N_BANDS = 12
#: power added to every band before taking dB (see FeatureStream._bands)
BAND_FLOOR = 1e-5


def _mel_bins(n_fft: int = 512, n_bands: int = N_BANDS, lo: float = 100.0, hi: float = 7600.0) -> np.ndarray:
    """``(n_bands + 1,)`` FFT bin indices: band ``i`` is bins ``[b[i], b[i + 1])``, mel-spaced from lo to hi Hz."""
    mel = np.linspace(2595 * np.log10(1 + lo / 700), 2595 * np.log10(1 + hi / 700), n_bands + 1)
    edges = 700 * (10 ** (mel / 2595) - 1)
    return np.ceil(edges * n_fft / WORK_RATE).astype(int)


@dataclass
class HopFeatures:
    """Features of consecutive hops; every field is ``(K,)`` float32."""

    db: np.ndarray
    openness: np.ndarray
    f0: np.ndarray
    hf: np.ndarray
    mid: np.ndarray
    f1: np.ndarray
    f2: np.ndarray
    bands: np.ndarray  # (K, N_BANDS)

    FIELDS = ("db", "openness", "f0", "hf", "mid", "f1", "f2", "bands")

    @classmethod
    def empty(cls) -> "HopFeatures":
        z = np.zeros(0, np.float32)
        return cls(z, z, z, z, z, z, z, np.zeros((0, N_BANDS), np.float32))

    def __len__(self) -> int:
        return len(self.db)

    @staticmethod
    def concat(parts: list["HopFeatures"]) -> "HopFeatures":
        if not parts:
            return HopFeatures.empty()
        return HopFeatures(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in HopFeatures.FIELDS))


def _window_power(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Mean square of ``x[s:s + length]`` for each start (each window summed on its own, so the
    result does not depend on where the buffer begins)."""
    lo = int(starts.min())
    sq = np.append(x[lo:int(starts.max()) + length].astype(np.float64) ** 2, 0.0)
    idx = np.stack([starts - lo, starts - lo + length], axis=1).reshape(-1)
    return np.add.reduceat(sq, idx)[::2] / length


class LevelTracker:
    """Noise floor by minimum statistics, speech level by a decaying maximum.

    With ``snr = level - floor`` and ``x = clip((db - lo) / max(level - lo, range_db), 0, 1)``:
    ``openness = x (1 - convexity + convexity x) * clip((snr - 6) / 6, 0, 1)`` where
    ``lo = max(floor + clip(0.4 snr, 3, gate_db), silence_dbfs)``.

    ``x`` is linear in dB, but the mouth opens with the sound's amplitude, which is far more convex
    in dB (10 dB down is a third of the amplitude), so openness bends halfway toward it
    (``convexity`` 0.5): over a 20 dB range, a syllable 10 dB down opens the mouth to 38 %, not 50 %.
    """

    def __init__(self, gate_db: float, silence_dbfs: float, floor_window_s: float = 1.5,
                 prior_floor_dbfs: float = -50.0, range_db: float = 8.0, level_decay_db_s: float = 3.0,
                 convexity: float = 0.5):
        self.gate_db = gate_db
        self.convexity = convexity
        self.silence_dbfs = silence_dbfs
        self.range_db = range_db
        self.decay = level_decay_db_s / HOP_RATE
        n = int(floor_window_s * HOP_RATE)
        # a virtual quiet past, so that speech at the very start is not taken for noise
        self.recent: deque[float] = deque([prior_floor_dbfs] * n, maxlen=n)
        self.smooth = prior_floor_dbfs
        self.level = prior_floor_dbfs + 30.0

    def step(self, db: float) -> float:
        self.smooth = db if db < self.smooth else 0.5 * self.smooth + 0.5 * db
        self.recent.append(self.smooth)
        floor = min(self.recent) + 1.5
        if db > self.level:
            self.level += 0.5 * (db - self.level)
        else:
            self.level -= self.decay
        self.level = max(self.level, floor)
        # speech-to-noise ratio: the gate and the range shrink with it, so noisy speech still
        # opens the mouth fully, and below 6 dB nothing is taken for speech
        snr = self.level - floor
        lo = max(floor + min(max(0.4 * snr, 3.0), self.gate_db), self.silence_dbfs)
        x = (db - lo) / max(self.level - lo, self.range_db)
        confidence = min(max((snr - 6.0) / 6.0, 0.0), 1.0)
        x = min(max(x, 0.0), 1.0)
        return x * (1.0 - self.convexity + self.convexity * x) * confidence


class FeatureStream:
    """Turns 16 kHz audio, pushed in any chunks, into :class:`HopFeatures`."""

    def __init__(self, gate_db: float = 9.0, silence_dbfs: float = -55.0, bands: bool = True):
        """``bands``: compute the mel bands (else they are zeros: a quarter of the cost saved)."""
        self.with_bands = bands
        self.band = butter(2, [150, 4000], btype="bandpass", fs=WORK_RATE, output="sos").astype(np.float64)
        self.high = butter(2, 3000, btype="highpass", fs=WORK_RATE, output="sos").astype(np.float64)
        self.zi_band = sosfilt_zi(self.band) * 0.0
        self.zi_high = sosfilt_zi(self.high) * 0.0
        self.midband = butter(2, [700, 4000], btype="bandpass", fs=WORK_RATE, output="sos").astype(np.float64)
        self.zi_mid = sosfilt_zi(self.midband) * 0.0
        self.tracker = LevelTracker(gate_db, silence_dbfs)
        pad = max(HALF_WIN, PITCH_HALF)
        self.pad = pad
        # buffers hold the band-passed, high-passed and mid-band audio; index 0 is sample `start`
        self.bp = np.zeros(pad, np.float32)
        self.hp = np.zeros(pad, np.float32)
        self.md = np.zeros(pad, np.float32)
        self.raw = np.zeros(pad, np.float32)
        self.mel_bins = _mel_bins()
        self.hann = np.hanning(2 * HALF_WIN)
        self.start = -pad
        self.n = 0
        self.k = 0  # next hop to compute
        self.last_f0 = 0.0
        self.lags = np.arange(PITCH_RATE // 400, PITCH_RATE // 60 + 1)  # 60-400 Hz at 8 kHz

    def push(self, x: np.ndarray, final: bool = False) -> HopFeatures:
        x = np.asarray(x, np.float64)
        if len(x):
            bp, self.zi_band = sosfilt(self.band, x, zi=self.zi_band)
            hp, self.zi_high = sosfilt(self.high, x, zi=self.zi_high)
            md, self.zi_mid = sosfilt(self.midband, x, zi=self.zi_mid)
            self.md = np.concatenate([self.md, md.astype(np.float32)])
            self.bp = np.concatenate([self.bp, bp.astype(np.float32)])
            self.hp = np.concatenate([self.hp, hp.astype(np.float32)])
            self.raw = np.concatenate([self.raw, x.astype(np.float32)])
            self.n += len(x)
        if final:  # hops whose window runs past the end see zeros there
            z = np.zeros(self.pad, np.float32)
            self.bp, self.hp, self.md, self.raw = (np.concatenate([b, z]) for b in (self.bp, self.hp, self.md, self.raw))
            last = (self.n - 1) // HOP if self.n else -1
        else:
            last = (self.n - max(HALF_WIN, PITCH_HALF)) // HOP
        out = self._compute(last)
        self._trim()
        return out

    def _compute(self, last: int) -> HopFeatures:
        parts = []
        while self.k <= last:  # blocks of hops keep the working arrays in cache
            parts.append(self._compute_block(min(last, self.k + 1023)))
        return HopFeatures.concat(parts)

    def _compute_block(self, last: int) -> HopFeatures:
        ks = np.arange(self.k, last + 1)
        c = ks * HOP - self.start
        e_bp = _window_power(self.bp, c - HALF_WIN, 2 * HALF_WIN)
        e_hp = _window_power(self.hp, c - HALF_WIN, 2 * HALF_WIN)
        e_md = _window_power(self.md, c - HALF_WIN, 2 * HALF_WIN)
        db = 10.0 * np.log10(e_bp + 1e-11)
        hf = e_hp / (e_hp + e_bp + 1e-11)
        # pitch on even hops (20 ms is plenty for prosody); odd hops repeat the hop before
        f0 = np.empty(len(c))
        even = ks % 2 == 0
        if even.any():
            f0[even] = self._pitch(c[even])
        for i in np.flatnonzero(~even):
            f0[i] = f0[i - 1] if i > 0 else self.last_f0
        self.last_f0 = float(f0[-1])
        openness = np.array([self.tracker.step(float(d)) for d in db], np.float32)
        self.k = last + 1
        mid = 10.0 * np.log10(e_md + 1e-11)
        # formants only where voiced: rounding and spreading are read from voiced sounds
        f1 = np.full(len(c), 500.0)
        f2 = np.full(len(c), 1500.0)
        voiced = f0 > 0
        if voiced.any():
            f1[voiced], f2[voiced] = self._formants(c[voiced])
        return HopFeatures(db.astype(np.float32), openness, f0.astype(np.float32), hf.astype(np.float32),
                           mid.astype(np.float32), f1.astype(np.float32), f2.astype(np.float32),
                           self._bands(c) if self.with_bands else np.zeros((len(c), N_BANDS), np.float32))

    def _bands(self, centres: np.ndarray) -> np.ndarray:
        """``(N, N_BANDS)`` mel-band loudness (dB) of the 25 ms Hann window around each hop."""
        seg = self.raw[centres[:, None] + np.arange(-HALF_WIN, HALF_WIN)[None, :]].astype(np.float64) * self.hann
        power = np.abs(np.fft.rfft(seg, 512, axis=1)) ** 2
        # summed bin by bin, row by row (a matrix product could round differently with the number
        # of rows, and stream and offline compute different numbers of hops at once)
        bands = np.add.reduceat(power[:, : self.mel_bins[-1]], self.mel_bins[:-1], axis=1)
        # a floor (-50 dB; a loud vowel's low bands reach +25 dB) some 13 dB above what 16-bit
        # rounding adds to the widest band (-63 dB), so that digital silence, its rounding in a wav
        # file and a resampler's residue read alike
        return (10.0 * np.log10(bands + BAND_FLOOR)).astype(np.float32)

    def _formants(self, centres: np.ndarray, order: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """F1, F2 (Hz) by LPC of the band-passed signal decimated to 8 kHz (it has nothing above 4 kHz)."""
        w = np.arange(-HALF_WIN, HALF_WIN, 2)
        seg = self.bp[centres[:, None] + w[None, :]].astype(np.float64)
        seg = np.concatenate([seg[:, :1], seg[:, 1:] - 0.9 * seg[:, :-1]], axis=1) * np.hamming(seg.shape[1])
        n = seg.shape[1]
        spec = np.fft.rfft(seg, 2 * n, axis=1)
        r = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :order + 1]
        r[:, 0] = r[:, 0] * (1 + 1e-6) + 1e-12
        # Levinson-Durbin, batched over hops
        a = np.zeros((len(r), order + 1))
        a[:, 0] = 1.0
        err = r[:, 0].copy()
        for i in range(1, order + 1):
            acc = r[:, i] + np.einsum("kj,kj->k", a[:, 1:i], r[:, i - 1:0:-1]) if i > 1 else r[:, 1].copy()
            k = -acc / err
            a_prev = a.copy()
            a[:, i] = k
            a[:, 1:i] = a_prev[:, 1:i] + k[:, None] * a_prev[:, i - 1:0:-1]
            err = err * (1 - k * k)
        # formants = peaks of the LPC envelope 1 / |A|, read on a 31 Hz grid and refined parabolically
        inv = -np.log(np.abs(np.fft.rfft(a, 256, axis=1)) + 1e-12)  # log envelope, (N, 129)
        fs = WORK_RATE / 2
        hz = np.arange(inv.shape[1]) * fs / 256
        peak = (inv[:, 1:-1] > inv[:, :-2]) & (inv[:, 1:-1] >= inv[:, 2:])
        peak &= ((hz[1:-1] > 180) & (hz[1:-1] < 3600))[None, :]
        order_idx = np.where(peak, np.arange(1, inv.shape[1] - 1)[None, :], 10 ** 6)
        order_idx.sort(axis=1)
        rows = np.arange(len(inv))

        def refine(col: np.ndarray, default: float) -> np.ndarray:
            ok = col < 10 ** 6
            i = np.clip(col, 1, inv.shape[1] - 2)
            y0, y1, y2 = inv[rows, i - 1], inv[rows, i], inv[rows, i + 1]
            d = y0 - 2 * y1 + y2
            shift = np.where(np.abs(d) > 1e-12, 0.5 * (y0 - y2) / np.where(d == 0, 1, d), 0.0)
            return np.where(ok, (i + np.clip(shift, -0.5, 0.5)) * fs / 256, default)

        f1 = refine(order_idx[:, 0], 500.0)
        f2 = refine(order_idx[:, 1], 1500.0)
        return f1, f2

    def _pitch(self, centres: np.ndarray) -> np.ndarray:
        """Normalised autocorrelation pitch (60-400 Hz) of the band-passed signal."""
        # at 8 kHz (the band-passed signal has nothing above 4 kHz): a quarter of the work
        w = np.arange(-PITCH_HALF, PITCH_HALF, 2)
        out = np.zeros(len(centres))
        seg = self.bp[centres[:, None] + w[None, :]].astype(np.float64)
        seg = seg - seg.mean(axis=1, keepdims=True)
        n = seg.shape[1]
        loud = 10 * np.log10(np.mean(seg ** 2, axis=1) + 1e-12) > -50
        if not loud.any():
            return out
        seg = seg[loud]
        spec = np.fft.rfft(seg, 512, axis=1)  # >= n + the longest lag: no circular wrap
        ac = np.fft.irfft(np.abs(spec) ** 2, 512, axis=1)[:, :n]
        energy = ac[:, 0] + 1e-12
        # unbiased by the shrinking overlap
        ac = ac / (n - np.arange(n))[None, :] * n
        r = ac[:, self.lags] / energy[:, None]
        best = np.argmax(r, axis=1)
        peak = r[np.arange(len(r)), best]
        lag = self.lags[best].astype(np.float64)
        i = np.clip(best, 1, len(self.lags) - 2)
        a, b, cc = r[np.arange(len(r)), i - 1], r[np.arange(len(r)), i], r[np.arange(len(r)), i + 1]
        denom = a - 2 * b + cc
        shift = np.where(np.abs(denom) > 1e-9, 0.5 * (a - cc) / np.where(denom == 0, 1, denom), 0.0)
        lag = lag + np.clip(shift, -0.5, 0.5) * (best == i)
        out[loud] = np.where(peak > 0.5, PITCH_RATE / lag, 0.0)
        return out

    def _trim(self) -> None:
        keep = self.k * HOP - self.pad - self.start
        if keep > 8192:
            self.bp, self.hp, self.md, self.raw = self.bp[keep:], self.hp[keep:], self.md[keep:], self.raw[keep:]
            self.start += keep
