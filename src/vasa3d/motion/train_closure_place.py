"""Train the closure-place classifier (:mod:`vasa3d.motion.closure_place`) on synthesized speech.

    python -m vasa3d.motion.train_closure_place              # rewrites closure_place.npz beside it
    python -m vasa3d.motion.train_closure_place -o out.npz --quick

Data: random word strings from the CMU dictionary spoken by our formant synthesizer
(:mod:`vasa3d.motion.synth`) with random voices (pitch 85-260 Hz, vocal-tract scale, bandwidths,
breathiness) and speaking rates, each clip heard clean and through random degradations (a room
with RT60 0.2-0.8 s, white noise at 10-30 dB SNR, a spectral tilt, a low-pass as in lossy
codecs). Every dip the detector finds (a run of hops with dip evidence) is one example, labelled
"lips" when it lies within 40 ms of a /p b m/ or a pause (the tests' closure measure), else
"not lips". Nothing here reads a recorded test file.

Training: an ensemble of small perceptrons (torch, one thread, fixed seeds, so a rerun gives the
same weights up to float rounding), class-balanced logistic loss. The decision threshold keeps
``keep`` (95 %) of the held-out synthesized "lips" dips.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vasa3d.motion.closure_place import WEIGHTS, ClosurePlace, onset_features
from vasa3d.motion.config import MotionConfig
from vasa3d.motion.measure import simulate_room
from vasa3d.motion.synth import Voice, synthesize

LIPS = ("P", "B", "M", "SIL")


def random_texts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` strings of 6-14 dictionary words with commas and full stops (pauses)."""
    from vasa3d.motion.phones import _dictionary

    words = sorted(w for w in _dictionary() if w.isalpha() and 2 <= len(w) <= 9)
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 15))
        picked = [words[i] for i in rng.integers(0, len(words), k)]
        text = ""
        for i, w in enumerate(picked):
            text += w + ("," if rng.random() < 0.12 and i < k - 1 else "") + " "
        out.append(text.strip() + ".")
    return out


def random_voice(rng: np.random.Generator, i: int) -> Voice:
    f0 = float(rng.uniform(85, 260))
    return Voice(f"random{i}", f0, f0 * float(rng.uniform(0.68, 0.88)),
                 1.0 + 0.18 * (f0 - 85) / 175 + float(rng.uniform(-0.05, 0.05)),
                 float(rng.uniform(0.85, 1.35)), float(rng.uniform(0.02, 0.1)))


def degrade(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random room, noise, tilt and low-pass."""
    from scipy.signal import butter, lfilter, sosfilt

    y = simulate_room(x, rt60=float(rng.uniform(0.2, 0.8)), snr_db=float(rng.uniform(10, 30)),
                      seed=int(rng.integers(1 << 30))).astype(np.float64)
    a = float(rng.uniform(-0.6, 0.6))  # first-order tilt: + brightens, - darkens
    y = lfilter([1.0, -a], [1.0], y) if a > 0 else lfilter([1.0 + a], [1.0, a], y)
    if rng.random() < 0.5:
        y = sosfilt(butter(6, float(rng.uniform(3800, 7500)), fs=16000, output="sos"), y)
    return (0.7 * y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)


def dip_examples(x: np.ndarray, phonemes: list[tuple[str, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Classifier inputs ``(n, D)`` and labels ``(n,)`` for the dips the detector finds in ``x`` (16 kHz)."""
    from vasa3d.motion.generate import MotionStream

    stream = MotionStream(16000, MotionConfig(closure_place=True))
    # the features alone (no frames: they would need the classifier being trained); 16 kHz in
    stream._take(np.asarray(x, np.float32), final=True)
    ev = stream._dip_evidence(np.arange(stream.hop_count)) > 0
    on = np.flatnonzero(ev & ~np.concatenate([[False], ev[:-1]]))
    off = np.flatnonzero(ev & ~np.concatenate([ev[1:], [False]])) + 1
    feats = onset_features(stream.hist["bands"], on)
    labels = np.array([any(p in LIPS and a < b / 100 + 0.04 and e > s / 100 - 0.04 for p, a, e in phonemes)
                       for s, b in zip(on, off)], bool)
    return feats, labels


def make_data(clips: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, labels and clip index of every dip in ``clips`` synthesized clips (each clean + 2 degraded)."""
    rng = np.random.default_rng(seed)
    texts = random_texts(clips, rng)
    xs, ys, groups = [], [], []
    for i, text in enumerate(texts):
        speech = synthesize(text, random_voice(rng, i), rate=float(rng.uniform(0.85, 1.25)), seed=i)
        for version in range(3):
            audio = speech.samples if version == 0 else degrade(speech.samples, rng)
            f, y = dip_examples(audio, speech.phonemes)
            xs.append(f)
            ys.append(y)
            groups.append(np.full(len(y), i))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)


def fit_member(x: np.ndarray, y: np.ndarray, seed: int, hidden: int = 16, epochs: int = 40):
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-2)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    pos_weight = torch.tensor((1 - y.mean()) / max(y.mean(), 1e-6))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(xt), generator=gen).split(256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[batch])[:, 0], yt[batch],
                                                                        pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    w1, b1 = net[0].weight.detach().numpy().T, net[0].bias.detach().numpy()
    w2, b2 = net[3].weight.detach().numpy()[0], net[3].bias.detach().numpy()[0]
    return (w1.astype(np.float64), b1.astype(np.float64), w2.astype(np.float64), np.float64(b2))


def train(clips: int = 60, members: int = 3, keep: float = 0.95, seed: int = 0, hidden: int = 16, log=print) -> tuple[ClosurePlace, dict]:
    """Train on ``clips`` synthesized clips (a fifth held out by clip for the threshold and the report)."""
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    x, y, g = make_data(clips, seed)
    held = g % 5 == 4
    log(f"{len(y)} dips from {clips} clips ({y.mean():.0%} lips), {time.perf_counter() - t0:.0f} s")
    layers = [fit_member(x[~held], y[~held], seed + m, hidden) for m in range(members)]
    model = ClosurePlace(layers, 0.0)
    s = model.scores(x[held])
    model.threshold = float(np.quantile(s[y[held]], 1 - keep))
    report = {"dips": int(len(y)), "held_out": int(held.sum()),
              "held_lips_kept": float(np.mean(s[y[held]] >= model.threshold)),
              "held_other_removed": float(np.mean(s[~y[held]] < model.threshold))}
    log(f"held-out synthesized dips: {report['held_lips_kept']:.1%} of lips kept, "
        f"{report['held_other_removed']:.1%} of others removed; {time.perf_counter() - t0:.0f} s in all")
    return model, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(WEIGHTS))
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="12 clips, for a check")
    args = parser.parse_args(argv)
    clips = 12 if args.quick else args.clips
    model, report = train(clips, args.members, hidden=args.hidden)
    meta = (f"trained by vasa3d.motion.train_closure_place on {clips} synthesized clips "
            f"(seed 0); held-out: {report}")
    model.save(args.output, meta)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
