"""Small deterministic scenes shared by the render tests."""

from __future__ import annotations

import math

import torch

from vasa3d.render import Camera, Gaussians


def random_scene(n: int, seed: int = 0, sh_degree: int = 3, dtype=torch.float32, spread: float = 0.1,
                 scale: float = 0.01) -> Gaussians:
    """``n`` Gaussians scattered in a ball of radius ``spread`` around the origin."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g, dtype=dtype) * 2 - 1) * spread
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    log_scales = math.log(scale) + 0.5 * torch.randn(n, 3, generator=g, dtype=dtype)
    opacity_logits = torch.randn(n, generator=g, dtype=dtype) * 1.5
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.4
    return Gaussians(means, quats, log_scales, opacity_logits, sh)


def head_scene(n: int, seed: int = 0, sh_degree: int = 0, dtype=torch.float32, scale: float = 0.2 / 200) -> Gaussians:
    """``n`` Gaussians on a head-sized ellipsoid (0.15 x 0.21 x 0.19 m), each ``scale`` (1/200 of its size)."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, 3, generator=g, dtype=dtype)
    d = d / d.norm(dim=1, keepdim=True)
    radii = torch.tensor([0.075, 0.105, 0.095], dtype=dtype)
    means = d * radii
    # flat discs tangent to the surface: thin along the normal
    log_scales = torch.full((n, 3), math.log(scale), dtype=dtype) + 0.3 * torch.randn(n, 3, generator=g, dtype=dtype)
    log_scales[:, 2] -= 1.5
    z = torch.tensor([0.0, 0.0, 1.0], dtype=dtype).expand(n, 3)
    normal = torch.nn.functional.normalize(d / radii**2, dim=1)
    axis = torch.linalg.cross(z, normal)
    cos = (z * normal).sum(1, keepdim=True)
    quats = torch.cat([1 + cos, axis], dim=1)  # rotates +z onto the normal (unnormalised)
    quats[cos[:, 0] < -0.999] = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=dtype)
    opacity_logits = 2.0 + torch.randn(n, generator=g, dtype=dtype)
    sh = torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g, dtype=dtype) * 0.3
    sh[:, 0] += Gaussians.rgb_to_sh0(torch.tensor([[0.8, 0.6, 0.5]], dtype=dtype))[:, 0]
    return Gaussians(means, quats, log_scales, opacity_logits, sh)


def head_camera(size: int, yaw: float = 15.0, pitch: float = 5.0) -> Camera:
    return Camera.orbit(yaw, pitch, distance=1.0, width=size, height=size, fov_deg=16.0)


def with_grad(g: Gaussians) -> Gaussians:
    return Gaussians(*(t.detach().clone().requires_grad_(True) for t in g.tensors()))
