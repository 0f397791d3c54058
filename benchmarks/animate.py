"""Speed of the mesh-warp animator and of building a training dataset with it.

The astronaut portrait is analysed and fitted once (not timed).  Then:

* ``frame``: one 512x512 frame (head model, rasterization, shading, mouth,
  eyes, body layer, compositing) in one process, per stage;
* ``build``: ``write_dataset`` driving the animator over random motion (yaw
  +-40, pitch +-20, wide expressions) with N worker processes, all-in:
  rendering, packing shards, compressing and writing them.  Frames per second
  = frames / wall time; also the CPU time per frame summed over all processes,
  and what N idle cores would therefore reach (N * 1000 / CPU ms), which is the
  honest number when other jobs share the machine.

Best of ``--repeats`` runs (the machine may be shared).

    python benchmarks/animate.py                    # 512x512, 1 and 2 workers, 300 frames
    python benchmarks/animate.py --frames 600 --workers 2 4 --size 256
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def setup(size: int):
    import skimage.data

    from vasa3d.animate import MeshWarpAnimator
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    analysis = analyze_portrait(skimage.data.astronaut(), size=size)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    return MeshWarpAnimator(analysis, fit, head)


def time_stages(animator, motion, n: int) -> dict[str, float]:
    """Milliseconds per frame of the animator's stages, best of the frames."""
    from vasa3d.animate.raster import rasterize_mesh

    cam = animator.camera
    t_head, t_raster, t_total = [], [], []
    for i in range(n):
        t0 = time.perf_counter()
        V = animator.vertices(motion.z_dyn[i], motion.z_pose[i])
        t1 = time.perf_counter()
        uv, z = cam.project(V)
        rasterize_mesh(uv.numpy(), z.numpy(), animator.faces, cam.width, cam.height)
        t2 = time.perf_counter()
        animator(motion.z_dyn[i], motion.z_pose[i], cam)
        t3 = time.perf_counter()
        t_head.append(t1 - t0)
        t_raster.append(t2 - t1)
        t_total.append(t3 - t2)
    med = lambda x: 1000 * float(np.median(x))  # noqa: E731
    return {"head model": med(t_head), "rasterize": med(t_raster), "whole frame": med(t_total)}


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def time_build(animator, motion, workers: int, repeats: int, compresslevel: int) -> tuple[float, float]:
    """(frames per second of wall time, CPU milliseconds per frame over all processes), best run."""
    from vasa3d.animate.dataset import DatasetPlan, write_dataset

    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        root = Path(tempfile.mkdtemp(prefix="vasa3d-bench-"))
        try:
            plan = DatasetPlan(motion, animator.camera, seed=0, shard_size=32, compresslevel=compresslevel,
                               source={"kind": "benchmark"})
            t0, c0 = time.perf_counter(), _cpu_seconds()
            write_dataset(root / "ds", plan, lambda i: animator(motion.z_dyn[i], motion.z_pose[i], plan.cameras[i]),
                          workers=workers, quiet=True)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, _cpu_seconds() - c0)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return len(motion) / best, 1000 * best_cpu / len(motion)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from vasa3d.animate import random_motion

    animator = setup(args.size)
    motion = random_motion(args.frames, seed=0)
    animator(motion.z_dyn[0], motion.z_pose[0])  # compile
    print(f"## animator, {args.size}x{args.size}, one process\n")
    print("| stage | ms / frame |\n|---|---|")
    for k, v in time_stages(animator, motion, min(60, args.frames)).items():
        print(f"| {k} | {v:.1f} |")
    print(f"\n## dataset build, {args.frames} frames at {args.size}x{args.size}\n")
    print("| workers | shard compression | frames / s (wall) | CPU ms / frame | frames / s if the cores were idle |")
    print("|---|---|---|---|---|")
    for w in args.workers:
        for level in (1, 0):
            fps, cpu_ms = time_build(animator, motion, w, args.repeats, level)
            print(f"| {w} | {'masks zlib 1, frames raw' if level else 'none'} | {fps:.1f} | {cpu_ms:.1f} | "
                  f"{1000 * w / cpu_ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
