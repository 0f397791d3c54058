"""The plain-PyTorch reference against first principles."""

from __future__ import annotations

import math

import pytest
import torch

from vasa3d.render import Camera, Gaussians, rasterize
from vasa3d.render.projection import project, quat_to_rotmat
from vasa3d.render.sh import eval_sh

from .scenes import random_scene, with_grad


def naive_render(g: Gaussians, cam: Camera, width: int, height: int, bg) -> torch.Tensor:
    """Per-pixel loop over Gaussians, written straight from the 3DGS rules (gsplat's constants)."""
    p = project(g, cam, width, height)
    img = torch.zeros(height, width, 3, dtype=torch.float64)
    for y in range(height):
        for x in range(width):
            T, c = 1.0, torch.zeros(3, dtype=torch.float64)
            for i in range(len(p)):
                dx = x + 0.5 - float(p.means2d[i, 0])
                dy = y + 0.5 - float(p.means2d[i, 1])
                a, b, cc = (float(v) for v in p.conics[i])
                alpha = min(0.999, float(p.opacities[i]) * math.exp(-0.5 * (a * dx * dx + cc * dy * dy) - b * dx * dy))
                if alpha < 1 / 255:
                    continue
                if T * (1 - alpha) <= 1e-4:
                    break
                c += T * alpha * p.colors[i].double()
                T *= 1 - alpha
            img[y, x] = c + T * torch.as_tensor(bg, dtype=torch.float64)
    return img


def test_reference_matches_naive_loop():
    g = random_scene(40, seed=1, spread=0.05, scale=0.008)
    cam = Camera.orbit(10, -5, 0.6, width=19, height=13, fov_deg=20)
    out = rasterize(g, cam, 19, 13, background=torch.tensor([0.2, 0.3, 0.4]), backend="torch")
    ref = naive_render(g, cam, 19, 13, [0.2, 0.3, 0.4])
    assert out.color.shape == (1, 13, 19, 3)
    assert (out.color[0].double() - ref).abs().max() < 1e-5
    assert out.alpha.max() > 0.5  # the scene is actually visible


def test_isotropic_gaussian_projects_to_expected_sigma():
    # A sphere of std s at distance d in front of a camera with focal f has screen std f*s/d.
    s, d = 0.01, 0.8
    cam = Camera.orbit(0, 0, d, width=64, height=64, fov_deg=20)
    g = Gaussians(torch.zeros(1, 3), torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), math.log(s)),
                  torch.tensor([3.0]), torch.zeros(1, 1, 3))
    p = project(g, cam, 64, 64)
    f = float(cam.K[0, 0])
    var = (f * s / d) ** 2 + 0.3
    assert torch.allclose(p.means2d, torch.tensor([[32.0, 32.0]]), atol=1e-4)
    assert torch.allclose(p.conics, torch.tensor([[1 / var, 0.0, 1 / var]]), rtol=1e-4)
    assert abs(float(p.depths[0]) - d) < 1e-5
    # the footprint: alpha = 1/255 at the extent
    r = float(p.extents[0, 0])
    assert abs(torch.sigmoid(torch.tensor(3.0)) * math.exp(-0.5 * r * r / var) - 1 / 255) < 1e-5


def test_quaternion_rotation_is_orthonormal_and_wxyz():
    q = torch.tensor([[math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)]]) * 3.0  # 90 deg about z
    R = quat_to_rotmat(q)[0]
    assert torch.allclose(R @ torch.tensor([1.0, 0, 0]), torch.tensor([0.0, 1, 0]), atol=1e-6)
    Rs = quat_to_rotmat(torch.randn(100, 4))
    assert torch.allclose(Rs @ Rs.transpose(1, 2), torch.eye(3).expand(100, 3, 3), atol=1e-5)


def test_sh_degree0_is_the_3dgs_colour_and_higher_degrees_depend_on_view():
    rgb = torch.tensor([[0.2, 0.5, 0.9]])
    sh = torch.zeros(1, 16, 3)
    sh[:, 0] = Gaussians.rgb_to_sh0(rgb)[:, 0]
    dirs = torch.tensor([[0.0, 0.0, 1.0]])
    assert torch.allclose(eval_sh(sh, dirs, 3), rgb, atol=1e-6)
    sh[:, 2] = 0.1  # the z-linear term
    front = eval_sh(sh, dirs, 1)
    back = eval_sh(sh, -dirs, 1)
    assert torch.allclose(front - back, torch.full((1, 3), 2 * 0.4886025119029199 * 0.1), atol=1e-6)
    assert torch.allclose(eval_sh(sh, dirs, 0), rgb, atol=1e-6)  # degree 0 ignores the rest


def test_batched_cameras_match_single_renders():
    g = random_scene(300, seed=2)
    cams = [Camera.orbit(y, 0, 0.7, width=24, height=20, fov_deg=30) for y in (-30, 0, 45)]
    bg = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.2, 0.1]])
    batch = rasterize(g, Camera.stack(cams), 24, 20, background=bg, backend="torch")
    assert batch.color.shape == (3, 20, 24, 3)
    for i, cam in enumerate(cams):
        one = rasterize(g, cam, 24, 20, background=bg[i], backend="torch")
        assert torch.allclose(batch.color[i], one.color[0], atol=1e-6)
        assert torch.allclose(batch.depth[i], one.depth[0], atol=1e-6)
    assert not torch.allclose(batch.color[0], batch.color[2], atol=1e-2)  # views really differ


@pytest.mark.parametrize("antialiased", [False, True])
def test_reference_gradcheck_float64(antialiased):
    g = with_grad(random_scene(6, seed=3, sh_degree=2, dtype=torch.float64, spread=0.02, scale=0.006))
    cam = Camera.orbit(20, 10, 0.4, width=9, height=7, fov_deg=20)
    cam = Camera(cam.K.double(), cam.world_to_cam.double(), 9, 7)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    weights = torch.rand(1, 7, 9, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def f(*ts):
        out = rasterize(Gaussians(*ts), cam, 9, 7, background=bg, backend="torch", antialiased=antialiased)
        img = torch.cat([out.color, out.alpha, out.depth], dim=-1)
        return (img * weights).sum()

    assert torch.autograd.gradcheck(f, g.tensors(), eps=1e-6, atol=1e-5, rtol=1e-4)
