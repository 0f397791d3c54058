"""Fresh training frames: the animator's throughput against the training step, and whether training waits.

Usage: python benchmarks/fresh_frames.py [--preset cpu-quick] [--steps 20] [--workers -1] [--sizes 256 512]

Times, on the astronaut: the mesh-warp animator per frame in one process (one thread) at each size; the
motion generators per frame (random, talking); the head region at the preset's size; then ``Trainer.train_step`` of the preset at its resolution,
on a 64-frame dataset's frames (head regions cached after the warm-up) and on fresh frames from ``--workers``
processes (a head region per frame), with the time the trainer spent waiting for frames.  Prints JSON and the sizing rule's numbers (docs/training.md).
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import dataclasses
import json
import math
import os
import tempfile
import time
from pathlib import Path

import torch


def _per_frame(fn, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu-quick")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=-1, help="fresh-frame worker processes (-1: cores - 1)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 512])
    ap.add_argument("--frames", type=int, default=20, help="frames per animator timing")
    args = ap.parse_args()

    from skimage import data

    from vasa3d.animate import MeshWarpAnimator, random_motion, synthesize_dataset, talking_motion
    from vasa3d.animate.fresh import FreshFrames
    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.train import TrainConfig, Trainer

    report: dict = {"load_average_1min": os.getloadavg()[0], "cores": os.cpu_count()}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a worker process runs
    motion = random_motion(args.frames + 1, seed=1)
    for size in args.sizes:
        analysis = analyze_portrait(data.astronaut(), size=size)
        head = build_head(None)
        fit = fit_portrait(analysis, head)
        animator = MeshWarpAnimator(analysis, fit, head)
        animator(motion.z_dyn[0], motion.z_pose[0])  # compile
        s = _per_frame(lambda i: animator(motion.z_dyn[i + 1], motion.z_pose[i + 1]), args.frames)
        report[f"animator_ms_per_frame_{size}"] = 1000 * s
    for name, make in (("random", random_motion), ("talking", talking_motion)):
        t = time.perf_counter()
        make(250, seed=5)
        report[f"motion_{name}_ms_per_frame"] = 1000 * (time.perf_counter() - t) / 250
    torch.set_num_threads(threads)

    cfg = dataclasses.replace(TrainConfig.preset(args.preset), device="cpu" if not torch.cuda.is_available() else "auto",
                              checkpoint_every=0, preview_every=0, log_every=0)
    analysis = analyze_portrait(data.astronaut(), size=cfg.resolution)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    animator = MeshWarpAnimator(analysis, fit, head)
    from vasa3d.train.regions import head_region

    region_avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig.preset(args.preset)).eval()
    z = random_motion(11, seed=2)
    torch.set_num_threads(1)
    s = _per_frame(lambda i: head_region(region_avatar, torch.from_numpy(z.z_dyn[i]), torch.from_numpy(z.z_pose[i]),
                                         fit.camera, cfg.head_margin), 10)
    torch.set_num_threads(threads)
    report[f"head_region_ms_per_frame_{cfg.resolution}"] = 1000 * s
    with tempfile.TemporaryDirectory() as tmp:
        ds = synthesize_dataset(animator, random_motion(64, seed=0), fit.camera, Path(tmp) / "ds", quiet=True)
        for fresh_on in (False, True):
            avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig.preset(args.preset))
            run = dataclasses.replace(cfg, fresh_frames=fresh_on, fresh_workers=args.workers)
            fresh = FreshFrames(animator, fit.camera, seed=0, motion="mixed", workers=args.workers) if fresh_on else None
            trainer = Trainer(avatar, ds, run, quiet=True, fresh=fresh)
            for _ in range(args.warmup):
                trainer.train_step()
                trainer.step += 1
            waited = fresh.waited_s if fresh is not None else 0.0
            t0 = time.perf_counter()
            for _ in range(args.steps):
                trainer.train_step()
                trainer.step += 1
            key = "fresh" if fresh_on else "dataset"
            report[f"{key}_ms_per_step"] = 1000 * (time.perf_counter() - t0) / args.steps
            if fresh is not None:  # the part of a step spent waiting for the workers' frames
                report["fresh_wait_ms_per_step"] = 1000 * (fresh.waited_s - waited) / args.steps
                report["fresh_workers"] = fresh.workers
                fresh.close()
    # frames the animator must make per second of training, and the workers that takes
    step_s = report["dataset_ms_per_step"] / 1000
    size = cfg.resolution if f"animator_ms_per_frame_{cfg.resolution}" in report else args.sizes[-1]
    per_frame_s = (report[f"animator_ms_per_frame_{size}"] + report[f"head_region_ms_per_frame_{cfg.resolution}"]
                   + 0.5 * report["motion_talking_ms_per_frame"]) / 1000  # what a worker does per frame
    report["worker_ms_per_frame"] = 1000 * per_frame_s
    report["frames_per_s_needed"] = cfg.batch_size / step_s
    report["workers_needed"] = math.ceil(cfg.batch_size / step_s * per_frame_s)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
