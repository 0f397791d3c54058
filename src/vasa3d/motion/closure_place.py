"""Is a closure dip a lip closure? A small classifier of the place of a stop or nasal.

The dip detector of :mod:`vasa3d.motion.generate` finds where the 0.7-4 kHz band drops sharply;
/t d k g n/ make such dips as well as /p b m/. This classifier reads what surrounds the dip's
first hop and says whether the lips close there: a /p b m/ or a pause. Its inputs
(:func:`onset_features`): 12 mel bands from 120 ms before to 60 ms after, each band relative to
its own maximum over the 120 ms before (the formant transitions into the closure, the murmur or
silence in it and the start of a release); F1, F2 (LPC) relative to the speaker's running mean
and voicing at the same hops; the spectral shape (bands less their mean) from 30 ms before to
60 ms after (murmur and burst colour); and how far the speech stands above the band's noise
floor (so that it can weigh the other inputs by how clean the audio is).

It is an ensemble of three two-layer perceptrons (:data:`N_INPUTS` inputs, 16 hidden units)
trained by :mod:`vasa3d.motion.train_closure_place` on speech from our own formant synthesizer
(random voices and texts, rooms, noise and filters), never on recordings the tests measure. Its
weights ship beside this file (``closure_place.npz``, 81 kB). The generator uses it when
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
#: hops whose spectral shape (bands less their mean) the classifier reads: 30 ms before to 60 ms after
SHAPE = np.arange(-3, 7)
#: dB scale of the band inputs, and log scale of the formant inputs
SCALE_DB = 20.0
FORMANT_SCALE = 0.3
#: inputs per dip: bands, F1, voicing and F2 at the CONTEXT hops, spectral shape at the SHAPE hops,
#: speech-to-noise ratio (``features.N_BANDS`` bands)
N_BANDS = 12
N_INPUTS = len(CONTEXT) * (N_BANDS + 3) + len(SHAPE) * N_BANDS + 1
#: width (logits) of the ramp from "not lips" to "lips" around the threshold
SOFT = 1.0
WEIGHTS = Path(__file__).with_name("closure_place.npz")


def onset_features(hist: dict | np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """``(n, N_INPUTS)`` classifier inputs for dips starting at hop indices ``onsets``.

    Args:
        hist: per-hop histories (hops outside ``[0, K)`` repeat the edge): ``"bands"`` ``(K, B)``
            mel-band loudness in dB; ``"f1"``, ``"f2"`` ``(K,)`` formants in Hz, read where
            ``"voiced"`` ``(K,)`` is > 0; ``"fref"`` ``(K, 2)`` the speaker's running mean log F1 and
            log F2 (its value at the dip's first hop normalises the formants); ``"mid"`` and
            ``"midfloor"`` ``(K,)`` the 0.7-4 kHz band and its noise floor, dB. A bare bands array
            gives the band inputs only (the others read 0, as without voicing or speech).
        onsets: ``(n,)`` hop indices into the histories.

    Inputs, in order: the bands at the :data:`CONTEXT` hops relative to each band's maximum over
    the 120 ms before (``/ SCALE_DB``); log F1, voicing (0/1) and log F2 at the same hops (the
    formants relative to the speaker's, ``/ FORMANT_SCALE``, 0 where unvoiced); the spectral shape (bands less their mean
    over bands, ``/ SCALE_DB``) at the :data:`SHAPE` hops; the 0.7-4 kHz band's maximum over the
    120 ms before less its noise floor at the first hop (``/ 40`` dB).
    """
    if not isinstance(hist, dict):
        hist = {"bands": hist}
    bands = hist["bands"]
    n_hops = len(bands)
    onsets = np.asarray(onsets, int)
    idx = np.clip(onsets[:, None] + CONTEXT[None, :], 0, n_hops - 1)
    patch = bands[idx].astype(np.float64)  # (n, C, B)
    ref = patch[:, :BEFORE].max(axis=1, keepdims=True)
    rel = ((patch - ref) / SCALE_DB).reshape(len(idx), len(CONTEXT) * patch.shape[2])
    if "voiced" in hist:
        on = hist["voiced"][idx] > 0
        voiced = on.astype(np.float64)
        fref = hist["fref"][np.clip(onsets, 0, n_hops - 1)].astype(np.float64)  # (n, 2)

        def formant(key: str, j: int) -> np.ndarray:
            log_f = np.log(np.maximum(hist[key][idx].astype(np.float64), 1.0))
            return np.where(on, (log_f - fref[:, j:j + 1]) / FORMANT_SCALE, 0.0)

        f1, f2 = formant("f1", 0), formant("f2", 1)
    else:
        voiced = f1 = f2 = np.zeros(idx.shape)
    shape = patch[:, SHAPE - CONTEXT[0]]
    shape = ((shape - shape.mean(axis=2, keepdims=True)) / SCALE_DB).reshape(len(idx), len(SHAPE) * patch.shape[2])
    if "midfloor" in hist:
        # how far the speech before the dip stands above the 0.7-4 kHz band's noise floor
        mid = hist["mid"][idx[:, :BEFORE]].astype(np.float64).max(axis=1)
        snr = (mid - hist["midfloor"][idx[:, BEFORE]].astype(np.float64))[:, None] / 40.0
    else:
        snr = np.zeros((len(idx), 1))
    return np.concatenate([rel, f1, voiced, f2, shape, snr], axis=1)


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
