"""Is a closure dip a lip closure? A small classifier of the place of a stop or nasal.

The dip detector of :mod:`vasa3d.motion.generate` finds where the 0.7-4 kHz band drops sharply;
/t d k g n/ make such dips as well as /p b m/. This classifier reads the spectrum around the
dip's first hop (12 mel bands, 120 ms before to 60 ms after, each band relative to its own
maximum over the 120 ms before: the formant transitions into the closure, the murmur or
silence in it and the start of the release) and says whether the lips close there: a /p b m/
or a pause.

It is an ensemble of three two-layer perceptrons (:data:`CONTEXT` x 12 inputs, 16 hidden units)
trained by :mod:`vasa3d.motion.train_closure_place` on speech from our own formant synthesizer
(random voices and texts, rooms, noise and filters), never on recordings the tests measure. Its
weights ship beside this file (``closure_place.npz``, 48 kB). The generator uses it when
``MotionConfig.closure_place`` is on (the default; see docs/motion.md for what it gains).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from vasa3d.errors import MissingAssetError

#: hops (10 ms) around a dip's first hop that the classifier reads; 6 ahead stays within the
#: detector's look-ahead budget (see ``generate._frames_ready``)
CONTEXT = np.arange(-12, 7)
BEFORE = 12
AHEAD = int(CONTEXT[-1])
#: dB scale of the inputs
SCALE_DB = 20.0
#: width (logits) of the ramp from "not lips" to "lips" around the threshold
SOFT = 1.0
WEIGHTS = Path(__file__).with_name("closure_place.npz")


def onset_features(bands: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """``(n, len(CONTEXT) * B)`` classifier inputs for dips starting at hop indices ``onsets``.

    Args:
        bands: ``(K, B)`` mel-band loudness in dB per hop; hops outside ``[0, K)`` repeat the edge.
        onsets: ``(n,)`` hop indices into ``bands``.
    """
    idx = np.clip(np.asarray(onsets, int)[:, None] + CONTEXT[None, :], 0, len(bands) - 1)
    patch = bands[idx].astype(np.float64)  # (n, C, B)
    ref = patch[:, :BEFORE].max(axis=1, keepdims=True)
    return ((patch - ref) / SCALE_DB).reshape(len(idx), -1)


class ClosurePlace:
    """The trained ensemble: ``scores(x)`` (mean logit) and ``weight(x)`` (a ramp around the threshold)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], threshold: float):
        self.layers = layers
        self.threshold = float(threshold)

    @classmethod
    def load(cls, path: str | Path = WEIGHTS) -> "ClosurePlace":
        path = Path(path)
        if not path.is_file():
            raise MissingAssetError(f"the closure-place weights {path} are missing; rebuild them with "
                                    "'python -m vasa3d.motion.train_closure_place'")
        with np.load(path, allow_pickle=False) as z:
            n = int(z["members"])
            layers = [tuple(z[f"{name}{i}"].astype(np.float64) for name in ("w1_", "b1_", "w2_", "b2_"))
                      for i in range(n)]
            return cls(layers, float(z["threshold"]))

    def save(self, path: str | Path, meta: str) -> None:
        arrays = {"members": np.array(len(self.layers)), "threshold": np.array(self.threshold),
                  "meta": np.array(meta)}
        for i, layer in enumerate(self.layers):
            for name, a in zip(("w1_", "b1_", "w2_", "b2_"), layer):
                arrays[f"{name}{i}"] = np.asarray(a, np.float32)
        np.savez(path, **arrays)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` mean logit of the ensemble for inputs ``(n, D)``: > threshold means lips."""
        # sums along a fixed axis, not matrix products, so that a row's score does not depend on
        # how many rows are scored together (stream and offline must agree bit for bit)
        out = np.zeros(len(x))
        for w1, b1, w2, b2 in self.layers:
            hidden = np.maximum((x[:, :, None] * w1[None]).sum(axis=1) + b1, 0.0)
            out += (hidden * w2).sum(axis=1) + b2
        return out / max(len(self.layers), 1)

    def weight(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` in [0, 1]: how far to trust a dip, a ramp over ``SOFT`` logits around the
        threshold (a hard cut would flip a closure on or off for a few ms of shift in the audio)."""
        return np.clip((self.scores(x) - self.threshold) / SOFT + 0.5, 0.0, 1.0)


@lru_cache(maxsize=1)
def default_classifier() -> ClosurePlace:
    """The shipped weights, loaded once per process (read-only afterwards)."""
    return ClosurePlace.load()
