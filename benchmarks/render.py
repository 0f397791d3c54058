"""Speed of ``vasa3d.render.rasterize`` on head-shaped scenes.

Prints one table row per (backend, resolution, Gaussian count): forward
milliseconds (display, no gradient), forward+backward milliseconds (a
training step's rendering), frames per second of the forward, and peak
memory above the idle process (CPU: resident set; CUDA: allocated device
memory), and the process CPU time of a frame summed over threads (on a
shared machine the CPU time is the robust number; on idle cores the wall
time is about CPU time / threads).  Times are all-in: projection, sorting, binning and compositing.
Each configuration runs in a fresh subprocess so its memory peak is its own;
the time reported is the best of ``--repeats`` runs after a warm-up (the
machine may be shared, and the best run is the least disturbed one).

The scene: Gaussians spread over an ellipsoid of head size
(0.15 x 0.21 x 0.19 m), flat discs tangent to it, each about 1/200 of the
head (1 mm, with log-normal spread), mostly opaque; the camera is 1 m away
with a 16 degree field of view, turned 15 degrees, so the head fills most
of the frame.

    python benchmarks/render.py                      # cpu (and gsplat on CUDA)
    python benchmarks/render.py --backends cpu torch --counts 5000 --sizes 256
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch


def head_scene(n: int, seed: int = 0, device: str = "cpu"):
    from vasa3d.render import Gaussians

    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g)
    d = d / d.norm(dim=1, keepdim=True)
    radii = torch.tensor([0.075, 0.105, 0.095])
    means = d * radii
    log_scales = math.log(0.2 / 200) + 0.3 * torch.randn(n, 3, generator=g)
    log_scales[:, 2] -= 1.5  # thin along the normal
    normal = torch.nn.functional.normalize(d / radii**2, dim=1)
    z = torch.tensor([0.0, 0.0, 1.0]).expand(n, 3)
    quats = torch.cat([1 + (z * normal).sum(1, keepdim=True), torch.linalg.cross(z, normal)], dim=1)
    quats[quats[:, 0] < 1e-3] = torch.tensor([0.0, 1.0, 0.0, 0.0])
    opacity_logits = 2.0 + torch.randn(n, generator=g)
    sh = 0.3 * torch.randn(n, 1, 3, generator=g)
    sh[:, 0] += (torch.tensor([0.8, 0.6, 0.5]) - 0.5) / 0.28209479177387814
    return Gaussians(means, quats, log_scales, opacity_logits, sh).to(device)


def measure(backend: str, size: int, n: int, repeats: int) -> dict:
    from vasa3d.render import Camera, Gaussians, rasterize

    cuda = backend == "gsplat"
    device = "cuda" if cuda else "cpu"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    cam = Camera.orbit(15.0, 5.0, distance=1.0, width=size, height=size, fov_deg=16.0).to(device)
    bg = torch.ones(3, device=device)
    # warm up every kernel on a small scene first, so compilation is not counted as memory
    small = head_scene(500, device=device)
    with torch.no_grad():
        rasterize(small, cam, size, size, background=bg, backend=backend)
    gs = Gaussians(*(t.clone().requires_grad_(True) for t in small.tensors()))
    rasterize(gs, cam, size, size, background=bg, backend=backend).color.mean().backward()

    scene = head_scene(n, device=device)
    params = Gaussians(*(t.clone().requires_grad_(True) for t in scene.tensors()))
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.max_memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def forward():
        with torch.no_grad():
            out = rasterize(scene, cam, size, size, background=bg, backend=backend)
        sync()
        return out

    def forward_backward():
        out = rasterize(params, cam, size, size, background=bg, backend=backend)
        (out.color.mean() + out.alpha.mean()).backward()
        sync()

    def best(fn, k):
        """Best wall ms, median wall ms, and best process-CPU ms (all threads summed)."""
        fn()
        times, cpu = [], []
        for _ in range(k):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        return 1000 * min(times), 1000 * sorted(times)[len(times) // 2], 1000 * min(cpu)

    coverage = float(forward().alpha.mean())
    fwd, fwd_med, fwd_cpu = best(forward, repeats)
    fb, fb_med, fb_cpu = best(forward_backward, max(3, repeats // 2))
    if cuda:
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {
        "backend": backend, "size": size, "n": n, "forward_ms": fwd, "forward_median_ms": fwd_med,
        "fwd_bwd_ms": fb, "fwd_bwd_median_ms": fb_med, "forward_cpu_ms": fwd_cpu, "fwd_bwd_cpu_ms": fb_cpu, "fps": 1000 / fwd, "peak_mib": max(peak, 0) / 2**20,
        "coverage": coverage,
    }


def stages(size: int, n: int, repeats: int) -> dict:
    """CPU milliseconds (process time, all threads summed) of each stage of the cpu backend.

    Process time is far less sensitive than wall time to other jobs on a
    shared machine; run with ``--threads 1`` to read it as single-core cost.
    """
    import numba
    import numpy as np

    from vasa3d.render import Camera
    from vasa3d.render import _kernels as K
    from vasa3d.render import _project_kernel as PK
    from vasa3d.render import backend_cpu as B

    scene = head_scene(n)
    cam = Camera.orbit(15.0, 5.0, distance=1.0, width=size, height=size, fov_deg=16.0)
    arrays = tuple(B._arr(t) for t in scene.tensors())
    cam_args = B._camera_args(cam)
    bg = np.ones(3, np.float32)
    recs, gaussian_ids = B._project_fused(arrays, 0, cam_args, size, size, 0.3, 0.01, False)
    tiles = (size + K.TILE - 1) // K.TILE
    offsets, ids = K.bin_records(recs, tiles, tiles, numba.get_num_threads())
    *_, state = B._composite_forward(recs, size, size, bg)
    rng = np.random.default_rng(0)
    g_color = torch.from_numpy(rng.random((size, size, 3), dtype=np.float32))
    g_alpha = torch.from_numpy(rng.random((size, size), dtype=np.float32))
    g_recs, _ = B._composite_backward(state, g_color, g_alpha, None)

    def project_backward():
        grads = tuple(np.zeros_like(a) for a in arrays)
        PK.project_backward(*arrays, 0, *cam_args, size, size, np.float32(0.3), gaussian_ids, g_recs, *grads)

    steps = {
        "project + depth sort": lambda: B._project_fused(arrays, 0, cam_args, size, size, 0.3, 0.01, False),
        "tile binning": lambda: K.bin_records(recs, tiles, tiles, numba.get_num_threads()),
        "blend (incl. binning)": lambda: B._composite_forward(recs, size, size, bg),
        "display blend (incl. binning)": lambda: B._composite_display(recs, size, size, bg),
        "blend backward": lambda: B._composite_backward(state, g_color, g_alpha, None),
        "projection backward": project_backward,
    }
    out = {"size": size, "n": n, "entries": int(len(ids))}
    for name, fn in steps.items():
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        out[name] = 1000 * min(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_backends = ["gsplat", "cpu"] if torch.cuda.is_available() else ["cpu"]
    parser.add_argument("--backends", nargs="+", default=default_backends, choices=["cpu", "torch", "gsplat"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--counts", nargs="+", type=int, default=[5000, 20000, 50000, 100000])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for numba and torch (default: all cores)")
    parser.add_argument("--stages", action="store_true",
                        help="instead of the table: CPU time of each cpu-backend stage")
    parser.add_argument("--one", nargs=3, metavar=("BACKEND", "SIZE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]), args.repeats)))
        return
    if args.stages:
        names = None
        for size in args.sizes:
            for n in args.counts:
                r = stages(size, n, args.repeats)
                if names is None:
                    names = [k for k in r if k not in ("size", "n", "entries")]
                    print("| resolution | Gaussians | tile entries | " + " | ".join(f"{k} ms" for k in names) + " |")
                    print("|---" * (3 + len(names)) + "|")
                print(f"| {size}x{size} | {n:,} | {r['entries']:,} | " + " | ".join(f"{r[k]:.1f}" for k in names) + " |",
                      flush=True)
        return
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}, load average {load:.1f}")
    print("| backend | resolution | Gaussians | forward ms | fwd+bwd ms | forward FPS | peak memory MiB "
          "| CPU ms forward | CPU ms fwd+bwd |")
    print("|---|---|---|---|---|---|---|---|---|")
    for backend in args.backends:
        for size in args.sizes:
            for n in args.counts:
                cmd = [sys.executable, __file__, "--one", backend, str(size), str(n), "--repeats", str(args.repeats)]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode != 0:
                    print(f"| {backend} | {size}x{size} | {n} | failed: {res.stderr.strip().splitlines()[-1]} | | | | | |")
                    continue
                r = json.loads(res.stdout.strip().splitlines()[-1])
                print(
                    f"| {backend} | {size}x{size} | {n:,} | {r['forward_ms']:.1f} | {r['fwd_bwd_ms']:.1f} "
                    f"| {r['fps']:.0f} | {r['peak_mib']:.0f} | {r['forward_cpu_ms']:.1f} | {r['fwd_bwd_cpu_ms']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
