"""Every figure only a GPU can give, in one run: see benchmarks/gpu_check.sh (the entry point).

1. gsplat against the CPU rasterizer on a 50k-Gaussian head scene at 512x512: image PSNR and the
   cosine of every gradient (means, rotations, scales, opacities, colours).
2. Rasterizer speed at 512x512 with 100k Gaussians (forward, and forward + backward), gsplat.
3. The live engine at 512x512 on CUDA: sustained fps, per-stage ms, push-to-frame latency.
4. A shortened ``gpu``-preset training run on the astronaut: steps per second and held-out PSNR
   after a fixed number of steps.

Writes ``OUT/gpu-check.json`` and ``OUT/gpu-check.md``. ``--tiny`` shrinks every part (to check
the script itself on a CPU with ``--allow-cpu``).
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: OpenMP passive waiting before torch loads)

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def gsplat_vs_cpu(device: str, backend: str, tiny: bool) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from scenes import head_camera, head_scene, with_grad

    from vasa3d.render import rasterize

    n, size = (2000, 64) if tiny else (50_000, 512)
    scene = head_scene(n, seed=0, sh_degree=1)
    cam = head_camera(size)
    bg = torch.tensor([1.0, 1.0, 1.0])
    results = {}
    for name, dev in (("cpu", "cpu"), (backend, device)):
        g = with_grad(scene.to(dev))
        out = rasterize(g, cam.to(dev), size, size, background=bg.to(dev), backend=name)
        weights = torch.rand(out.color.shape, generator=torch.Generator().manual_seed(0)).to(dev)
        (out.color * weights).sum().backward()
        results[name] = (out.color.detach().cpu(), [t.grad.cpu() for t in g.tensors()])
    (a, ga), (b, gb) = results["cpu"], results[backend]
    mse = float(((a - b) ** 2).mean())
    names = ("means", "quats", "log_scales", "opacity_logits", "sh")
    cos = {k: float(torch.nn.functional.cosine_similarity(x.flatten(), y.flatten(), dim=0))
           for k, x, y in zip(names, ga, gb)}
    return {"gaussians": n, "size": size, "psnr_db": 10 * np.log10(1.0 / max(mse, 1e-20)), "grad_cosine": cos}


def raster_speed(device: str, backend: str, tiny: bool) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "render"))
    from scenes import head_camera, head_scene, with_grad

    from vasa3d.render import rasterize

    n, size, reps = (2000, 64, 3) if tiny else (100_000, 512, 50)
    scene = head_scene(n, seed=1).to(device)
    cam = head_camera(size).to(device)
    bg = torch.ones(3, device=device)
    out = {"gaussians": n, "size": size}
    with torch.no_grad():
        for _ in range(5):
            rasterize(scene, cam, size, size, background=bg, backend=backend)
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            rasterize(scene, cam, size, size, background=bg, backend=backend)
        _sync(device)
        out["forward_ms"] = 1000 * (time.perf_counter() - t) / reps
    g = with_grad(scene)
    for i in range(reps + 5):
        if i == 5:
            _sync(device)
            t = time.perf_counter()
        rasterize(g, cam, size, size, background=bg, backend=backend).color.sum().backward()
    _sync(device)
    out["forward_backward_ms"] = 1000 * (time.perf_counter() - t) / reps
    out["forward_fps"] = 1000 / out["forward_ms"]
    return out


def _astronaut_avatar(path: Path, n: int) -> Path:
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import save_avatar

    analysis = analyze_portrait(data.astronaut(), size=256)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    save_avatar(path, GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=n)))
    return path


def live_engine(device: str, backend: str, tiny: bool, avatar: str | None, tmp: Path) -> dict:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import live as live_bench

    from vasa3d.io import load_avatar

    path = avatar or _astronaut_avatar(tmp / "astronaut.vasa3d", 2000 if tiny else 20_000)
    args = argparse.Namespace(backend=backend, device=device, precision="auto", deform_threads=0, render_threads=0)
    return live_bench.run_size(load_avatar(path), 64 if tiny else 512, 3.0 if tiny else 20.0, False, args)


def gpu_training(device: str, tiny: bool, tmp: Path) -> dict:
    from skimage import data

    from vasa3d.animate import MeshWarpAnimator, mixed_motion, synthesize_dataset
    from vasa3d.animate.fresh import FreshFrames
    from vasa3d.eval import evaluate
    from vasa3d.eval.evaluate import EvalConfig
    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.train import TrainConfig, Trainer

    import dataclasses

    steps, frames = (20, 40) if tiny else (2000, 600)
    cfg = TrainConfig.preset("gpu")
    cfg = dataclasses.replace(cfg, iterations=steps, cas_iterations=0, dataset_frames=frames,
                              resolution=96 if tiny else cfg.resolution, checkpoint_every=10 ** 9,
                              preview_every=10 ** 9)
    analysis = analyze_portrait(data.astronaut(), size=cfg.resolution)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    t = time.perf_counter()
    animator = MeshWarpAnimator(analysis, fit, head)
    ds = synthesize_dataset(animator, mixed_motion(frames, seed=0), fit.camera, tmp / "ds", quiet=True)
    data_s = time.perf_counter() - t
    avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=2000 if tiny else 60_000))
    # the gpu preset's own path: training frames drawn fresh from the animator by worker processes
    fresh = FreshFrames(animator, fit.camera, seed=0, motion="mixed", workers=cfg.fresh_workers)
    trainer = Trainer(avatar, ds, cfg, log_dir=tmp / "train", quiet=True, fresh=fresh)
    _sync(device)
    t = time.perf_counter()
    avatar = trainer.run()
    _sync(device)
    train_s = time.perf_counter() - t
    metrics = evaluate(avatar, ds, EvalConfig(max_frames=20 if tiny else 100, perceptual="off"), quiet=True)
    return {"steps": steps, "frames": frames, "resolution": cfg.resolution, "batch": cfg.batch_size,
            "dataset_s": data_s, "train_s": train_s, "steps_per_s": steps / train_s,
            "fresh_workers": fresh.workers, "fresh_wait_s": fresh.waited_s,
            "heldout_psnr_db": metrics["psnr"], "heldout_ssim": metrics["ssim"], "gaussians": avatar.n_gaussians}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu-check")
    p.add_argument("--avatar", help="avatar for the live figure (default: an untrained 20k astronaut)")
    p.add_argument("--tiny", action="store_true", help="shrink every part (checks the script)")
    p.add_argument("--allow-cpu", action="store_true", help="run without CUDA (with --tiny, to check the script)")
    p.add_argument("--parts", nargs="+", default=["compare", "speed", "live", "train"])
    args = p.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("gpu_check: no CUDA GPU here; nothing to measure")
        return 0
    from vasa3d.render import available_backends

    device = "cuda" if torch.cuda.is_available() else "cpu"
    backend = "gsplat" if "gsplat" in available_backends() else ("torch" if device == "cuda" else "cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu", "backend": backend,
              "torch": torch.__version__, "tiny": args.tiny}
    parts = {"compare": lambda tmp: gsplat_vs_cpu(device, backend, args.tiny),
             "speed": lambda tmp: raster_speed(device, backend, args.tiny),
             "live": lambda tmp: live_engine(device, backend, args.tiny, args.avatar, tmp),
             "train": lambda tmp: gpu_training(device, args.tiny, tmp)}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.parts:
            t = time.perf_counter()
            try:
                report[name] = parts[name](Path(tmp))
            except Exception as exc:  # one failing part must not cost the others' figures
                report[name] = {"error": f"{exc.__class__.__name__}: {exc}"}
            report[name]["wall_s"] = time.perf_counter() - t
            print(name, json.dumps(report[name]), flush=True)
            (out / "gpu-check.json").write_text(json.dumps(report, indent=1))
    lines = [f"# GPU check: {report['device']} ({backend}, torch {report['torch']})", ""]
    for name in args.parts:
        lines.append(f"- **{name}**: `{json.dumps(report[name])}`")
    (out / "gpu-check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
