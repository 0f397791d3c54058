"""The compiled ``cpu`` backend against the plain-PyTorch reference."""

from __future__ import annotations

import math

import pytest
import torch

from vasa3d.render import Camera, Gaussians, rasterize

from .scenes import head_camera, head_scene, random_scene, with_grad


def render_with_grads(g: Gaussians, cam: Camera, w: int, h: int, backend: str, bg=None, seed: int = 0, **kw):
    """Render, back-propagate a random weighting of colour, alpha and depth; return images and grads."""
    g = with_grad(g)
    bg = torch.tensor([0.3, 0.5, 0.2]) if bg is None else bg
    bg = bg.clone().requires_grad_(True)
    out = rasterize(g, cam, w, h, background=bg, backend=backend, **kw)
    img = torch.cat([out.color, out.alpha, out.depth], dim=-1)
    weights = torch.rand(img.shape, generator=torch.Generator().manual_seed(seed), dtype=img.dtype) - 0.3
    (img * weights).sum().backward()
    # a parameter nothing visible depends on may get no gradient at all: that is a zero gradient
    return out, [torch.zeros_like(t) if t.grad is None else t.grad for t in (*g.tensors(), bg)]


def assert_match(g, cam, w, h, **kw):
    ref, ref_grads = render_with_grads(g, cam, w, h, "torch", **kw)
    out, grads = render_with_grads(g, cam, w, h, "cpu", **kw)
    with torch.no_grad():  # the fused numba projection path
        bg = kw.pop("bg", torch.tensor([0.3, 0.5, 0.2]))
        kw.pop("seed", None)
        fast = rasterize(g, cam, w, h, background=bg, backend="cpu", **kw)
    for name in ("color", "alpha", "depth"):
        a, b, c = getattr(ref, name), getattr(out, name), getattr(fast, name)
        assert a.shape == b.shape == c.shape
        assert (a - b).abs().max() <= 1e-4, name
        assert (a - c).abs().max() <= 1e-4, name
    names = ("means", "quats", "log_scales", "opacity_logits", "sh", "background")
    for name, a, b in zip(names, ref_grads, grads):
        assert torch.isfinite(b).all(), name
        # relative, with a floor for gradients that are zero up to rounding (e.g. rotations of spheres)
        assert (a - b).norm() <= 1e-3 * a.norm() + 1e-5, name
    return ref, grads


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_scenes_match_reference(seed):
    g = random_scene(400, seed=seed, sh_degree=3, spread=0.12, scale=0.01)
    cam = Camera.orbit(30 * seed - 20, 10, 0.8, width=53, height=41, fov_deg=25)
    ref, _ = assert_match(g, cam, 53, 41, seed=seed)
    assert 0.2 < ref.alpha.mean() < 0.99  # a real, partly covered image


def test_head_scene_matches_reference_antialiased():
    g = head_scene(2500, seed=4, sh_degree=1, scale=0.005)
    ref, grads = assert_match(g, head_camera(48, yaw=40), 48, 48, antialiased=True)
    assert ref.alpha.max() > 0.99  # opaque surface: early termination happens
    assert grads[0].abs().sum() > 0


def test_dense_stack_terminates_early_like_reference():
    n = 300  # many nearly opaque Gaussians on one spot: transmittance falls below 1e-4
    g = Gaussians(torch.randn(n, 3) * 0.002, torch.randn(n, 4), torch.full((n, 3), math.log(0.01)),
                  torch.full((n,), 2.5), torch.randn(n, 1, 3))
    ref, _ = assert_match(g, Camera.orbit(0, 0, 0.5, width=20, height=20, fov_deg=20), 20, 20)
    assert ref.alpha[0, 10, 10, 0] > 1 - 1e-3


def test_behind_camera_and_outside_image_draw_nothing():
    g = random_scene(50, seed=5)
    g.means[:25, 2] = 2.0  # camera at z=1 looks toward -z: these are behind it
    g.means[25:, 0] = 5.0  # far to the side, outside the image
    cam = Camera.orbit(0, 0, 1.0, width=32, height=32, fov_deg=20)
    bg = torch.tensor([0.1, 0.2, 0.3])
    out, grads = render_with_grads(g, cam, 32, 32, "cpu", bg=bg)
    assert torch.allclose(out.color[0], bg.expand(32, 32, 3))
    assert out.alpha.abs().max() == 0 and out.depth.abs().max() == 0
    for t in grads[:5]:
        assert t.abs().max() == 0
    assert_match(g, cam, 32, 32, bg=bg)


def test_partly_outside_image_matches_reference():
    g = random_scene(200, seed=6, spread=0.15, scale=0.02)
    g.means[:, 0] += 0.1  # hangs off the right edge
    assert_match(g, Camera.orbit(0, 0, 0.6, width=30, height=22, fov_deg=25), 30, 22)


@pytest.mark.parametrize("log_scale", [-30.0, -math.inf])
def test_degenerate_scales(log_scale):
    g = random_scene(60, seed=7)
    g.log_scales[::2] = log_scale  # zero-size Gaussians become eps2d-sized dots
    g.log_scales[1::3, 2] = log_scale  # flat discs
    ref, grads = assert_match(g, Camera.orbit(0, 0, 0.6, width=40, height=40, fov_deg=25), 40, 40)
    assert torch.isfinite(ref.color).all()


def test_opacity_near_zero_and_one():
    g = random_scene(100, seed=8)
    g.opacity_logits[:50] = -12.0  # below 1/255: culled
    g.opacity_logits[50:] = 14.0  # alpha clamps at 0.999
    cam = Camera.orbit(0, 0, 0.6, width=40, height=40, fov_deg=25)
    ref, grads = assert_match(g, cam, 40, 40)
    only_opaque = Gaussians(*(t[50:] for t in g.tensors()))
    alone = rasterize(only_opaque, cam, 40, 40, background=torch.tensor([0.3, 0.5, 0.2]), backend="cpu")
    assert torch.allclose(alone.color, ref.color, atol=1e-6)  # the faint half changed nothing
    assert grads[3][:50].abs().max() == 0


def test_empty_scene():
    g = random_scene(0)
    bg = torch.tensor([0.7, 0.1, 0.4])
    out, grads = render_with_grads(g, Camera.orbit(width=8, height=6), 8, 6, "cpu", bg=bg)
    assert out.color.shape == (1, 6, 8, 3)
    assert torch.allclose(out.color[0], bg.expand(6, 8, 3))
    assert grads[0].shape == (0, 3)


def test_single_pixel_image():
    g = random_scene(30, seed=9, spread=0.01)
    cam = Camera.orbit(0, 0, 0.5, width=1, height=1, fov_deg=5)
    ref, _ = assert_match(g, cam, 1, 1)
    assert ref.alpha[0, 0, 0, 0] > 0.5


def test_batched_and_float64_inputs():
    g = random_scene(300, seed=10, dtype=torch.float64)
    cams = Camera.stack([Camera.orbit(y, 0, 0.8, width=24, height=24, fov_deg=25) for y in (0, 90)])
    out = rasterize(g, cams, 24, 24, backend="cpu")
    ref = rasterize(g, cams, 24, 24, backend="torch")
    assert out.color.dtype == torch.float64 and out.color.shape == (2, 24, 24, 3)
    assert (out.color - ref.color).abs().max() < 1e-4


def test_auto_prefers_cpu_without_cuda():
    from vasa3d.render.rasterize import _pick

    assert _pick("auto", torch.device("cpu")) == "cpu"


def test_clamped_jacobian_outside_the_frustum():
    # centres beyond 1.3x the half field of view, large enough to reach into the image
    g = random_scene(40, seed=12, spread=0.02, scale=0.05)
    g.means[:, 0] += 0.2
    g.means[:20, 1] -= 0.25
    cam = Camera.orbit(0, 0, 0.6, width=32, height=32, fov_deg=20)
    ref, _ = assert_match(g, cam, 32, 32)
    assert ref.alpha.max() > 0.05


def test_needles_and_big_splats_match_reference():
    # very anisotropic and very large footprints stress the per-row span pre-filter of the tiler
    g = random_scene(150, seed=13, spread=0.08, scale=0.01)
    g.log_scales[:75, 0] += 1.0
    g.log_scales[:75, 1:] -= 1.0
    g.log_scales[75:90] += 1.0
    cam = Camera.orbit(35, 20, 0.5, width=67, height=45, fov_deg=30)
    assert_match(g, cam, 67, 45)
    # Longer needles (20:1 and up): their rotation and position gradients sum huge, cancelling
    # per-pixel terms, so float32 gradients of any rasterizer disagree with float64 (checked:
    # both backends are off by the same amount); compare the images only.
    g.log_scales[:75, 0] += 1.5
    g.log_scales[:75, 1:] -= 1.0
    with torch.no_grad():
        ref = rasterize(g, cam, 67, 45, backend="torch")
        out = rasterize(g, cam, 67, 45, backend="cpu")
    assert (ref.color - out.color).abs().max() <= 1e-4
    assert ref.alpha.mean() > 0.3


def test_render_keeps_the_callers_torch_thread_count():
    """numba's parallel kernels set the calling thread's OpenMP count; the caller's torch setting survives."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        g = with_grad(random_scene(200, seed=5, sh_degree=1))
        cam = head_camera(24)
        with torch.no_grad():
            rasterize(g, cam, 24, 24, backend="cpu")
        assert torch.get_num_threads() == 1
        rasterize(g, cam, 24, 24, backend="cpu").color.sum().backward()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
