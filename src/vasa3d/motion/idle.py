"""Motion that is there whether or not anyone speaks: blinks, gaze saccades, breathing and sway.

Each process is generated frame by frame from a seeded, counter-based random
stream (one generator per event or per block of frames), so the output for a
frame never depends on how many frames were asked for at once.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 64  # frames per random block of the smooth-noise processes


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class Blinks:
    """Eye blinks at ``rate_per_min`` on average, 0.1-0.4 s long, never closer than 1 s apart.

    ``values(frames)`` gives the blink weight (0 open, 1 shut) of the given frame indices;
    frames must be asked for in increasing order.
    """

    def __init__(self, fps: float, rate_per_min: float, seed: int):
        self.fps = fps
        self.mean_interval = 60.0 / max(rate_per_min, 1e-3)
        self.seed = seed
        self.events: list[tuple[float, float, float]] = []  # (peak time, close s, open s)
        self.count = 0
        self.next_peak = self._draw_interval(0) * 0.5 + 0.3

    def _draw_interval(self, k: int) -> float:
        rng = np.random.default_rng((self.seed, 0xB1, k))
        refractory = 1.0
        shape = 3.0
        return refractory + rng.gamma(shape, (self.mean_interval - refractory) / shape)

    def _schedule_until(self, t: float) -> None:
        while self.next_peak - 0.5 <= t:
            rng = np.random.default_rng((self.seed, 0xB2, self.count))
            duration = float(np.clip(rng.lognormal(np.log(0.2), 0.3), 0.1, 0.4))
            # the lid is fully shut on a frame, so a 25 fps video shows every blink
            peak = round(self.next_peak * self.fps) / self.fps
            self.events.append((peak, 0.35 * duration, 0.65 * duration))
            self.count += 1
            self.next_peak = peak + self._draw_interval(self.count)

    def values(self, frames: np.ndarray) -> np.ndarray:
        times = np.asarray(frames, np.float64) / self.fps
        out = np.zeros(len(times))
        if len(times) == 0:
            return out
        self._schedule_until(float(times[-1]))
        for peak, close, open_ in self.events:
            before = _smoothstep(1.0 - (peak - times) / close)
            after = 1.0 - _smoothstep((times - peak) / open_)
            w = np.where(times <= peak, np.where(times > peak - close, before, 0.0),
                         np.where(times < peak + open_, after, 0.0))
            out = np.maximum(out, w)
        self.events = [e for e in self.events if e[0] + e[2] >= times[-1]]
        return out


class Saccades:
    """Gaze target (yaw, pitch in degrees) that jumps every 0.4-3 s and holds, as eyes do."""

    def __init__(self, fps: float, seed: int, spread_deg: tuple[float, float] = (4.0, 2.5)):
        self.fps = fps
        self.seed = seed
        self.spread = np.asarray(spread_deg)
        self.count = 0
        self.current = np.zeros(2)
        self.previous = np.zeros(2)
        self.jump_time = 0.0
        self.next_jump = self._interval(0)

    def _interval(self, k: int) -> float:
        return float(np.random.default_rng((self.seed, 0x5A, k)).uniform(0.4, 3.0))

    def values(self, frames: np.ndarray) -> np.ndarray:
        """``(len(frames), 2)`` gaze offsets in degrees."""
        out = np.zeros((len(frames), 2))
        for i, f in enumerate(frames):
            t = f / self.fps
            while t >= self.next_jump:
                self.count += 1
                rng = np.random.default_rng((self.seed, 0x5B, self.count))
                self.previous = self.current
                # mostly small corrections around the centre, sometimes a longer look away
                target = rng.normal(0.0, 1.0, 2) * self.spread * (2.0 if rng.random() < 0.15 else 1.0)
                self.current = 0.6 * target + 0.2 * self.current
                self.jump_time = self.next_jump
                self.next_jump += self._interval(self.count)
            # a saccade takes about 40 ms
            x = min(max((t - self.jump_time) / 0.04, 0.0), 1.0)
            out[i] = self.previous + (self.current - self.previous) * (x * x * (3.0 - 2.0 * x))
        return out


class SmoothNoise:
    """``dims`` channels of band-limited noise with unit standard deviation, frame by frame.

    A second-order low-pass (time constant ``tau_s``) of white noise drawn per block
    of frames from ``(seed, stream, block)``.
    """

    def __init__(self, fps: float, dims: int, tau_s: float, seed: int, stream: int):
        self.dims = dims
        self.seed, self.stream = seed, stream
        self.a = float(np.exp(-1.0 / (tau_s * fps)))
        # std of the cascade output for unit white noise: normalise to 1
        n = np.arange(int(20 * tau_s * fps) + 8)
        impulse = (1 - self.a) ** 2 * (n + 1) * self.a ** n  # two cascaded one-pole low-passes
        self.gain = float(np.sqrt(np.sum(impulse ** 2)))
        self.s1 = np.zeros(dims)
        self.s2 = np.zeros(dims)
        self.block_id = -1
        self.block = np.zeros((0, dims))
        self.warm = False

    def _white(self, frame: int) -> np.ndarray:
        b = frame // _BLOCK
        if b != self.block_id:
            self.block = np.random.default_rng((self.seed, self.stream, b)).normal(size=(_BLOCK, self.dims))
            self.block_id = b
        return self.block[frame % _BLOCK]

    def values(self, frames: np.ndarray) -> np.ndarray:
        """``(len(frames), dims)`` for consecutive frame indices."""
        from scipy.signal import lfilter

        frames = np.asarray(frames, int)
        if len(frames) == 0:
            return np.zeros((0, self.dims))
        if not self.warm:  # start in the stationary state instead of at zero
            rng = np.random.default_rng((self.seed, self.stream, 0xFFFFFF))
            self.s2 = rng.normal(size=self.dims) * self.gain
            self.s1 = self.s2.copy()
            self.warm = True
        blocks = np.unique(frames // _BLOCK)
        table = {int(b): np.random.default_rng((self.seed, self.stream, int(b))).normal(size=(_BLOCK, self.dims))
                 for b in blocks}
        white = np.stack([table[int(f) // _BLOCK][int(f) % _BLOCK] for f in frames])
        a = self.a
        # two one-pole low-passes; lfilter with carried state computes exactly the per-frame recursion
        s1, _ = lfilter([1 - a], [1.0, -a], white, axis=0, zi=(a * self.s1)[None, :])
        s2, _ = lfilter([1 - a], [1.0, -a], s1, axis=0, zi=(a * self.s2)[None, :])
        self.s1, self.s2 = s1[-1].copy(), s2[-1].copy()
        return s2 / self.gain
