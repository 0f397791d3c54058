"""gsplat: its projection maths against ours (CPU), and its CUDA renders against the cpu backend."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from vasa3d.errors import VasaError
from vasa3d.render import Camera, Gaussians, rasterize
from vasa3d.render.backend_gsplat import available
from vasa3d.render.projection import project

from .scenes import head_camera, head_scene, random_scene, with_grad

has_gsplat = importlib.util.find_spec("gsplat") is not None


def test_gsplat_backend_refuses_cleanly_when_unavailable():
    if available():
        pytest.skip("gsplat and CUDA are present")
    with pytest.raises(VasaError, match="gsplat"):
        rasterize(random_scene(3), Camera.orbit(width=8, height=8), 8, 8, backend="gsplat")


@pytest.mark.skipif(not has_gsplat, reason="gsplat is not installed (the [cuda] extra)")
@pytest.mark.parametrize("antialiased", [False, True])
def test_projection_matches_gsplat_torch_reference(antialiased):
    # gsplat's plain-torch projection runs on the CPU: same means2d, conics, depths and compensation.
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci, _spherical_harmonics

    g = random_scene(500, seed=11, sh_degree=3, spread=0.1)
    cam = Camera.orbit(25, -10, 0.7, width=120, height=90, fov_deg=30)
    ours = project(g, cam, 120, 90, antialiased=antialiased)
    covars, _ = _quat_scale_to_covar_preci(g.quats, torch.exp(g.log_scales), True, False)
    radii, means2d, depths, conics, comp = _fully_fused_projection(
        g.means, covars, cam.world_to_cam[None], cam.K[None], 120, 90, calc_compensations=antialiased
    )
    ids = ours.ids
    assert (radii[0, ids] > 0).all()
    assert torch.allclose(ours.means2d, means2d[0, ids], atol=1e-3)
    assert torch.allclose(ours.conics, conics[0, ids], rtol=1e-3, atol=1e-6)
    assert torch.allclose(ours.depths, depths[0, ids], atol=1e-6)
    opac = torch.sigmoid(g.opacity_logits[ids]) * (comp[0, ids] if antialiased else 1.0)
    assert torch.allclose(ours.opacities, opac, atol=1e-6)
    dirs = g.means[ids] - cam.position
    colors = torch.clamp_min(_spherical_harmonics(3, dirs, g.sh[ids]) + 0.5, 0.0)
    assert torch.allclose(ours.colors, colors, atol=1e-5)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


@pytest.mark.cuda
@pytest.mark.skipif(not available(), reason="needs CUDA and gsplat")
@pytest.mark.parametrize("antialiased", [False, True])
def test_gsplat_matches_cpu_on_head_scene(antialiased):
    scene = head_scene(50_000, seed=0, sh_degree=1)
    cam = head_camera(512)
    bg = torch.tensor([1.0, 1.0, 1.0])
    results = {}
    for backend, device in (("cpu", "cpu"), ("gsplat", "cuda")):
        g = with_grad(scene.to(device))
        out = rasterize(g, cam.to(device), 512, 512, background=bg.to(device), backend=backend,
                        antialiased=antialiased)
        weights = torch.rand(out.color.shape, generator=torch.Generator().manual_seed(0)).to(device)
        (out.color * weights).sum().backward()
        results[backend] = (out.color.detach().cpu(), [t.grad.cpu() for t in g.tensors()])
    (img_cpu, grads_cpu), (img_gpu, grads_gpu) = results["cpu"], results["gsplat"]
    assert psnr(img_cpu, img_gpu) >= 45.0
    for a, b in zip(grads_cpu, grads_gpu):
        cos = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
        assert cos >= 0.99
