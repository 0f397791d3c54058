"""Training speed per preset on the astronaut portrait: ms per step and the projected run time.

Usage: python benchmarks/train.py [--presets demo cpu-quick] [--steps 30]

Builds a small mesh-warp dataset at each preset's resolution in a temporary
folder, creates the preset's avatar, and times ``Trainer.train_step`` after
a warm-up (numba compilation, caches).  Prints a markdown table for
BENCHMARKS.md.
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["demo", "cpu-quick"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()

    from skimage import data

    from vasa3d.animate import MeshWarpAnimator, random_motion, synthesize_dataset
    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.train import TrainConfig, Trainer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    for preset in args.presets:
        # the step itself, on dataset frames; what fresh frames add is benchmarks/fresh_frames.py's
        cfg = dataclasses.replace(TrainConfig.preset(preset), fresh_frames=False)
        analysis = analyze_portrait(data.astronaut(), size=cfg.resolution)
        head = build_head(None)
        fit = fit_portrait(analysis, head)
        with tempfile.TemporaryDirectory() as tmp:
            ds = synthesize_dataset(MeshWarpAnimator(analysis, fit, head), random_motion(64, seed=0), fit.camera,
                                    Path(tmp) / "ds", quiet=True)
            avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig.preset(preset))
            trainer = Trainer(avatar, ds, cfg, quiet=True)
            for _ in range(args.warmup):
                trainer.train_step()
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                trainer.train_step()
            if device == "cuda":
                torch.cuda.synchronize()
            ms = 1000 * (time.perf_counter() - t0) / args.steps
        total = cfg.iterations + cfg.cas_iterations
        rows.append((preset, cfg.resolution, avatar.n_gaussians, cfg.batch_size, ms, total, ms * total / 60000))
    print(f"device: {device}, torch threads: {torch.get_num_threads()}")
    print("| preset | px | gaussians | batch | ms / step | steps | projected training time |")
    print("|---|---|---|---|---|---|---|")
    for p, px, n, b, ms, total, minutes in rows:
        print(f"| {p} | {px} | {n} | {b} | {ms:.0f} | {total} | {minutes:.1f} min |")


if __name__ == "__main__":
    main()
