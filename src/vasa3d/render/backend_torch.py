"""The plain-PyTorch reference compositor: slow, simple, the ground truth.

For every pixel, the projected Gaussians are visited front to back
(depth order of their centres) and blended with

    alpha_i = min(0.999, opacity_i * exp(-0.5 d_i^T conic_i d_i)),
    skipped when alpha_i < 1/255,
    C = sum_i T_i alpha_i c_i + T_end * background,  T_i = prod_{j<i} (1 - alpha_j),

stopping before the Gaussian that would bring the transmittance to 1e-4
or below (the rules of gsplat's CUDA rasterizer, which differ from the
original 3DGS code only in its 0.99 alpha clamp).  The image is processed
in square blocks; each block only looks at the Gaussians whose footprint
touches it and is checkpointed, so memory stays bounded with autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .camera import Camera
from .projection import ALPHA_MAX, ALPHA_MIN, T_MIN, Projected, project
from .types import Gaussians, RenderOutput

BLOCK = 16


def _composite_block(px: Tensor, py: Tensor, means2d: Tensor, conics: Tensor, colors: Tensor,
                     opacities: Tensor, depths: Tensor, background: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Blend ``n`` depth-sorted Gaussians at ``P`` pixel centres ``(px, py)``.

    Returns colour ``(P, 3)``, alpha ``(P,)`` and accumulated depth ``(P,)``.
    """
    dx = px[:, None] - means2d[None, :, 0]
    dy = py[:, None] - means2d[None, :, 1]
    power = -0.5 * (conics[:, 0] * dx * dx + conics[:, 2] * dy * dy) - conics[:, 1] * dx * dy
    alpha = torch.clamp(opacities * torch.exp(power), max=ALPHA_MAX)
    alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
    with torch.no_grad():  # stop before the Gaussian that would take T to T_MIN or below
        alive = torch.cumprod(1.0 - alpha, dim=1) > T_MIN
    alpha = alpha * alive
    t_incl = torch.cumprod(1.0 - alpha, dim=1)
    t_excl = torch.cat([torch.ones_like(t_incl[:, :1]), t_incl[:, :-1]], dim=1)
    w = alpha * t_excl
    t_end = t_incl[:, -1]
    color = w @ colors + t_end[:, None] * background
    return color, 1.0 - t_end, w @ depths


def composite(proj: Projected, width: int, height: int, background: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Colour ``(H, W, 3)``, alpha ``(H, W, 1)`` and depth ``(H, W, 1)`` of one projected view."""
    dtype, device = proj.means2d.dtype, proj.means2d.device
    u, v = proj.means2d.detach().unbind(-1)
    rx, ry = proj.extents.unbind(-1)
    lo_x, hi_x, lo_y, hi_y = u - rx, u + rx, v - ry, v + ry
    band_rows = []
    for y0 in range(0, height, BLOCK):
        y1 = min(y0 + BLOCK, height)
        in_rows = (hi_y >= y0 + 0.5) & (lo_y <= y1 - 0.5)
        blocks = []
        for x0 in range(0, width, BLOCK):
            x1 = min(x0 + BLOCK, width)
            n = (y1 - y0) * (x1 - x0)
            sel = (in_rows & (hi_x >= x0 + 0.5) & (lo_x <= x1 - 0.5)).nonzero().squeeze(1)
            if sel.numel() == 0:
                zeros = torch.zeros(n, dtype=dtype, device=device)
                c, a, d = background.expand(n, 3), zeros, zeros
            else:
                ys = torch.arange(y0, y1, dtype=dtype, device=device) + 0.5
                xs = torch.arange(x0, x1, dtype=dtype, device=device) + 0.5
                py, px = (g.reshape(-1) for g in torch.meshgrid(ys, xs, indexing="ij"))
                args = (px, py, proj.means2d[sel], proj.conics[sel], proj.colors[sel],
                        proj.opacities[sel], proj.depths[sel], background)
                if torch.is_grad_enabled():
                    c, a, d = checkpoint(_composite_block, *args, use_reentrant=False)
                else:
                    c, a, d = _composite_block(*args)
            shape = (y1 - y0, x1 - x0)
            blocks.append(torch.cat([c, a[:, None], d[:, None]], dim=1).reshape(*shape, 5))
        band_rows.append(torch.cat(blocks, dim=1))
    image = torch.cat(band_rows, dim=0)
    return image[..., :3], image[..., 3:4], image[..., 4:5]


def render(gaussians: Gaussians, cameras: Camera, width: int, height: int, background: Tensor,
           sh_degree: int | None, eps2d: float, near_plane: float, antialiased: bool) -> RenderOutput:
    """The ``torch`` backend for a batch of cameras (see :func:`vasa3d.render.rasterize`)."""
    colors, alphas, depths = [], [], []
    for i in range(len(cameras)):
        proj = project(gaussians, cameras[i], width, height, sh_degree, eps2d, near_plane, antialiased)
        c, a, d = composite(proj, width, height, background[i])
        colors.append(c)
        alphas.append(a)
        depths.append(d)
    return RenderOutput(torch.stack(colors), torch.stack(alphas), torch.stack(depths))
