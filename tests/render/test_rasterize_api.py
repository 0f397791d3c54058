"""The public entry point: backend choice, arguments, outputs."""

from __future__ import annotations

import pytest
import torch

from vasa3d.errors import VasaError
from vasa3d.render import Camera, available_backends, rasterize

from .scenes import head_camera, head_scene, random_scene


def test_available_backends_lists_gsplat_only_where_it_runs():
    from vasa3d.render.backend_gsplat import available

    names = available_backends()
    assert names[-2:] == ["cpu", "torch"]
    assert ("gsplat" in names) == available()


def test_unknown_backend_is_a_one_line_error():
    with pytest.raises(VasaError, match="unknown render backend 'vulkan'"):
        rasterize(random_scene(3), Camera.orbit(width=8, height=8), 8, 8, backend="vulkan")


def test_auto_and_cpu_agree_and_outputs_are_batched():
    g = head_scene(3000, seed=2, scale=0.004)
    cam = head_camera(48)
    with torch.no_grad():
        a = rasterize(g, cam, 48, 48)
        b = rasterize(g, cam, 48, 48, backend="cpu")
    assert a.color.shape == (1, 48, 48, 3) and a.alpha.shape == (1, 48, 48, 1) and a.depth.shape == (1, 48, 48, 1)
    assert torch.equal(a.color, b.color)
    # depth is the alpha-weighted centre depth: about 1 m (the camera distance) minus the head's front
    expected = (a.depth / a.alpha.clamp_min(1e-6))[a.alpha > 0.9]
    assert 0.85 < float(expected.mean()) < 0.95


def test_background_shows_through_exactly_where_alpha_is_low():
    g = head_scene(3000, seed=3, scale=0.004)
    cam = head_camera(40)
    with torch.no_grad():
        black = rasterize(g, cam, 40, 40)
        white = rasterize(g, cam, 40, 40, background=torch.ones(3))
    # colour over a background b is C + (1 - alpha) b
    assert torch.allclose(white.color - black.color, (1 - black.alpha).expand(-1, -1, -1, 3), atol=1e-5)


def test_sh_degree_argument_limits_the_bands():
    g = random_scene(200, seed=4, sh_degree=3)
    cam = Camera.orbit(30, 0, 0.6, width=32, height=32, fov_deg=25)
    g0 = type(g)(g.means, g.quats, g.log_scales, g.opacity_logits, g.sh[:, :1])
    with torch.no_grad():
        full = rasterize(g, cam, 32, 32)
        zero = rasterize(g, cam, 32, 32, sh_degree=0)
        only_dc = rasterize(g0, cam, 32, 32)
    assert torch.allclose(zero.color, only_dc.color, atol=1e-6)
    assert (full.color - zero.color).abs().max() > 0.05
