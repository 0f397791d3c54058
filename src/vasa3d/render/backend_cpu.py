"""The ``cpu`` backend: numba kernels for compositing and its backward.

Projection stays in :mod:`.projection` (autograd carries gradients from the
screen-space records back to means, rotations, scales, opacities and SH);
this module bins the projected Gaussians into 16x16 tiles with a counting
sort, blends each tile front to back with early termination, and provides
the matching backward as a :class:`torch.autograd.Function`.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from . import _kernels as K
from . import _project_kernel as PK
from .camera import Camera
from .projection import ALPHA_MIN, Projected, project
from .types import Gaussians, RenderOutput


def _pack(means2d: Tensor, conics: Tensor, colors: Tensor, opacities: Tensor, depths: Tensor,
          extents: Tensor) -> np.ndarray:
    """The ``(M, NCOL)`` float32 record array the kernels read."""
    with torch.no_grad():
        level = torch.log((opacities / ALPHA_MIN).clamp_min(1.0))
        recs = torch.cat(
            [means2d, conics, opacities[:, None], colors, depths[:, None], extents, level[:, None]], dim=1
        )
    return np.ascontiguousarray(recs.detach().to(torch.float32).numpy())


def _forward(recs: np.ndarray, width: int, height: int, background: np.ndarray):
    tiles_x = (width + K.TILE - 1) // K.TILE
    tiles_y = (height + K.TILE - 1) // K.TILE
    offsets, ids = K.bin_records(recs, tiles_x, tiles_y, numba.get_num_threads())
    color = np.empty((height, width, 3), np.float32)
    alpha = np.empty((height, width), np.float32)
    depth = np.empty((height, width), np.float32)
    t_final = np.empty((height, width), np.float32)
    last = np.empty((height, width), np.int32)
    K.composite_forward(recs, offsets, ids, width, height, tiles_x, background, color, alpha, depth, t_final, last)
    return color, alpha, depth, (offsets, ids, tiles_x, t_final, last)


def _np32(t: Tensor | None, shape) -> np.ndarray:
    if t is None:
        return np.zeros(shape, np.float32)
    return np.ascontiguousarray(t.detach().to(torch.float32).reshape(shape).numpy())


class _Composite(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, background, extents, width, height):
        recs = _pack(means2d, conics, colors, opacities, depths, extents)
        bg = _np32(background, (3,))
        color, alpha, depth, state = _forward(recs, width, height, bg)
        ctx.state = (recs, bg, width, height) + state
        ctx.dtype = means2d.dtype
        ctx.mark_non_differentiable()
        return torch.from_numpy(color), torch.from_numpy(alpha)[..., None], torch.from_numpy(depth)[..., None]

    @staticmethod
    def backward(ctx, g_color, g_alpha, g_depth):
        recs, bg, width, height, offsets, ids, tiles_x, t_final, last = ctx.state
        g_entries = np.empty((ids.shape[0], K.NGRAD), np.float32)
        g_bg = np.empty((offsets.shape[0] - 1, 3), np.float32)
        K.composite_backward(
            recs, offsets, ids, width, height, tiles_x, bg, t_final, last,
            _np32(g_color, (height, width, 3)), _np32(g_alpha, (height, width)), _np32(g_depth, (height, width)),
            g_entries, g_bg,
        )
        g = torch.from_numpy(K.reduce_entries(ids, g_entries, recs.shape[0])).to(ctx.dtype)
        g_background = torch.from_numpy(g_bg.sum(0)).to(ctx.dtype)
        return g[:, 0:2], g[:, 2:5], g[:, 6:9], g[:, 5], g[:, 9], g_background, None, None, None


def composite(proj: Projected, width: int, height: int, background: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Colour ``(H, W, 3)``, alpha ``(H, W, 1)`` and depth ``(H, W, 1)`` of one projected view."""
    dtype = proj.means2d.dtype
    args = (proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths, background)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        c, a, d = _Composite.apply(*args, proj.extents, width, height)
    else:
        recs = _pack(proj.means2d, proj.conics, proj.colors, proj.opacities, proj.depths, proj.extents)
        c, a, d, _ = _forward(recs, width, height, _np32(background, (3,)))
        c, a, d = torch.from_numpy(c), torch.from_numpy(a)[..., None], torch.from_numpy(d)[..., None]
    if dtype != torch.float32:
        c, a, d = c.to(dtype), a.to(dtype), d.to(dtype)
    return c, a, d


def _arr(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy())


def _camera_args(camera: Camera) -> tuple:
    """World rotation, translation, centre and ``fx, fy, cx, cy`` as the kernels take them."""
    f32 = np.float32
    Kc = camera.K.reshape(3, 3).to(torch.float64)
    w2c = _arr(camera.world_to_cam.reshape(4, 4))
    return (
        np.ascontiguousarray(w2c[:3, :3]), np.ascontiguousarray(w2c[:3, 3]), _arr(camera.position.reshape(3)),
        f32(Kc[0, 0]), f32(Kc[1, 1]), f32(Kc[0, 2]), f32(Kc[1, 2]),
    )


def _project_fused(arrays: tuple, degree: int, cam: tuple, width: int, height: int, eps2d: float,
                   near_plane: float, antialiased: bool) -> tuple[np.ndarray, np.ndarray]:
    """Depth-sorted records and their Gaussian indices, from the numba projection."""
    n = arrays[0].shape[0]
    recs = np.empty((n, K.NCOL), np.float32)
    keep = np.empty(n, np.bool_)
    PK.project_records(*arrays, degree, *cam, width, height, np.float32(eps2d), np.float32(near_plane),
                       bool(antialiased), recs, keep)
    return PK.sorted_records(recs, keep)


def _degree(gaussians: Gaussians, sh_degree: int | None) -> int:
    return gaussians.sh_degree if sh_degree is None else min(sh_degree, gaussians.sh_degree)


class _RasterizeOne(torch.autograd.Function):
    """One camera, classic mode, projection and compositing both in numba, with its backward."""

    @staticmethod
    def forward(ctx, means, quats, log_scales, opacity_logits, sh, background, camera, width, height,
                degree, eps2d, near_plane):
        arrays = tuple(_arr(t) for t in (means, quats, log_scales, opacity_logits, sh))
        cam = _camera_args(camera)
        recs, ids = _project_fused(arrays, degree, cam, width, height, eps2d, near_plane, False)
        bg = _np32(background, (3,))
        color, alpha, depth, state = _forward(recs, width, height, bg)
        ctx.state = (arrays, cam, degree, eps2d, recs, ids, bg, width, height) + state
        ctx.dtypes = tuple(t.dtype for t in (means, quats, log_scales, opacity_logits, sh, background))
        return torch.from_numpy(color), torch.from_numpy(alpha)[..., None], torch.from_numpy(depth)[..., None]

    @staticmethod
    def backward(ctx, g_color, g_alpha, g_depth):
        arrays, cam, degree, eps2d, recs, ids, bg, width, height, offsets, tile_ids, tiles_x, t_final, last = ctx.state
        g_entries = np.empty((tile_ids.shape[0], K.NGRAD), np.float32)
        g_bg = np.empty((offsets.shape[0] - 1, 3), np.float32)
        K.composite_backward(
            recs, offsets, tile_ids, width, height, tiles_x, bg, t_final, last,
            _np32(g_color, (height, width, 3)), _np32(g_alpha, (height, width)), _np32(g_depth, (height, width)),
            g_entries, g_bg,
        )
        g_recs = K.reduce_entries(tile_ids, g_entries, recs.shape[0])
        grads = tuple(np.zeros_like(a) for a in arrays)
        PK.project_backward(*arrays, degree, *cam, width, height, np.float32(eps2d), ids, g_recs, *grads)
        out = [torch.from_numpy(g).to(dt) for g, dt in zip(grads, ctx.dtypes)]
        out.append(torch.from_numpy(g_bg.sum(0)).to(ctx.dtypes[-1]))
        return (*out, None, None, None, None, None, None)


def render(gaussians: Gaussians, cameras: Camera, width: int, height: int, background: Tensor,
           sh_degree: int | None, eps2d: float, near_plane: float, antialiased: bool) -> RenderOutput:
    """The ``cpu`` backend for a batch of cameras: fused numba path when no gradient is needed.

    Tensors on another device are copied to the CPU (differentiably) and the
    images copied back.
    """
    device = gaussians.means.device
    if device.type != "cpu":
        out = render(gaussians.to("cpu"), cameras.to("cpu"), width, height, background.to("cpu"),
                     sh_degree, eps2d, near_plane, antialiased)
        return RenderOutput(out.color.to(device), out.alpha.to(device), out.depth.to(device))
    needs_grad = torch.is_grad_enabled() and (
        any(t.requires_grad for t in gaussians.tensors()) or background.requires_grad
    )
    dtype = gaussians.means.dtype
    colors, alphas, depths = [], [], []
    for i in range(len(cameras)):
        if needs_grad and antialiased:  # the compensation's gradient goes through autograd
            proj = project(gaussians, cameras[i], width, height, sh_degree, eps2d, near_plane, antialiased)
            c, a, d = composite(proj, width, height, background[i])
        elif needs_grad:
            c, a, d = _RasterizeOne.apply(*gaussians.tensors(), background[i], cameras[i], width, height,
                                          _degree(gaussians, sh_degree), eps2d, near_plane)
        else:
            arrays = tuple(_arr(t) for t in gaussians.tensors())
            recs, _ = _project_fused(arrays, _degree(gaussians, sh_degree), _camera_args(cameras[i]),
                                     width, height, eps2d, near_plane, antialiased)
            c, a, d, _ = _forward(recs, width, height, _np32(background[i], (3,)))
            c, a, d = torch.from_numpy(c), torch.from_numpy(a)[..., None], torch.from_numpy(d)[..., None]
        colors.append(c)
        alphas.append(a)
        depths.append(d)
    out = RenderOutput(torch.stack(colors), torch.stack(alphas), torch.stack(depths))
    if out.color.dtype != dtype:
        out = RenderOutput(out.color.to(dtype), out.alpha.to(dtype), out.depth.to(dtype))
    return out
