"""The ``cpu`` backend: numba kernels for projection, tiling, compositing and their backward.

Per camera:

* display (no gradient): fused projection + radix depth sort
  (:mod:`._project_kernel`), counting-sort binning into 16x16 tiles
  (:mod:`._kernels`) and vectorised front-to-back compositing with early
  termination (:mod:`._display_kernel`, about 4x faster than the training
  kernel's per-pixel loop);
* training (gradients wanted): the same forward inside
  :class:`_RasterizeOne`, whose backward walks every pixel's list back to
  front and then differentiates the projection analytically, returning
  gradients for means, quaternions, log-scales, opacity logits and SH;
* training in antialiased mode: projection in PyTorch
  (:func:`.projection.project`, so autograd handles the opacity
  compensation) and the compiled compositing through :class:`_CompositeOnly`.

All kernels work in float32; other dtypes are converted on the way in and out.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

from . import _display_kernel as DK
from . import _kernels as K
from . import _project_kernel as PK
from .camera import Camera
from .kernel_cache import announce_compile
from .projection import ALPHA_MIN, project
from .types import Gaussians, RenderOutput


# ----------------------------------------------------------------- threads
class _TorchThreads:
    """Keep the calling thread's torch thread count across numba's parallel kernels.

    numba's OpenMP layer and torch share GNU OpenMP, and a numba launch sets the calling thread's
    OpenMP thread count to numba's own: without this, ``torch.set_num_threads(1)`` made before a
    render was silently undone after it (and two-threaded maths is not bit-reproducible).
    """

    def __enter__(self) -> None:
        self.n = torch.get_num_threads()

    def __exit__(self, *exc) -> None:
        if torch.get_num_threads() != self.n:
            torch.set_num_threads(self.n)


# ----------------------------------------------------------------- array helpers
def _arr(t: Tensor) -> np.ndarray:
    """A float32 C-contiguous numpy view (or copy) of a CPU tensor."""
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy())


def _np32(t: Tensor | None, shape) -> np.ndarray:
    """``t`` reshaped to ``shape`` as float32 numpy; zeros for a missing upstream gradient."""
    if t is None:
        return np.zeros(shape, np.float32)
    return _arr(t.reshape(shape))


def _images(color: np.ndarray, alpha: np.ndarray, depth: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    return torch.from_numpy(color), torch.from_numpy(alpha)[..., None], torch.from_numpy(depth)[..., None]


def _camera_args(camera: Camera) -> tuple:
    """World-to-camera rotation and translation, camera centre and ``fx, fy, cx, cy``."""
    f32 = np.float32
    Kc = camera.K.reshape(3, 3).to(torch.float64)
    w2c = _arr(camera.world_to_cam.reshape(4, 4))
    return (
        np.ascontiguousarray(w2c[:3, :3]), np.ascontiguousarray(w2c[:3, 3]), _arr(camera.position.reshape(3)),
        f32(Kc[0, 0]), f32(Kc[1, 1]), f32(Kc[0, 2]), f32(Kc[1, 2]),
    )


def _degree(gaussians: Gaussians, sh_degree: int | None) -> int:
    return gaussians.sh_degree if sh_degree is None else min(sh_degree, gaussians.sh_degree)


# ----------------------------------------------------------------- kernel drivers
def _project_fused(arrays: tuple, degree: int, cam: tuple, width: int, height: int, eps2d: float,
                   near_plane: float, antialiased: bool) -> tuple[np.ndarray, np.ndarray]:
    """Depth-sorted records ``(M, NCOL)`` and the index of each one's Gaussian ``(M,)``."""
    n = arrays[0].shape[0]
    recs = np.empty((n, K.NCOL), np.float32)
    keep = np.empty(n, np.bool_)
    PK.project_records(*arrays, degree, *cam, width, height, np.float32(eps2d), np.float32(near_plane),
                       bool(antialiased), recs, keep)
    return PK.sorted_records(recs, keep)


def _bin_and_allocate(recs: np.ndarray, width: int, height: int):
    """Per-tile lists of ``recs`` and empty colour ``(H,W,3)``, alpha ``(H,W)`` and depth ``(H,W)`` images."""
    tiles_x = (width + K.TILE - 1) // K.TILE
    tiles_y = (height + K.TILE - 1) // K.TILE
    offsets, ids = K.bin_records(recs, tiles_x, tiles_y, numba.get_num_threads())
    color = np.empty((height, width, 3), np.float32)
    alpha = np.empty((height, width), np.float32)
    depth = np.empty((height, width), np.float32)
    return tiles_x, offsets, ids, color, alpha, depth


def _composite_forward(recs: np.ndarray, width: int, height: int, background: np.ndarray):
    """Bin and blend: colour, alpha, depth and the state :func:`_composite_backward` needs."""
    tiles_x, offsets, ids, color, alpha, depth = _bin_and_allocate(recs, width, height)
    t_final = np.empty((height, width), np.float32)
    last = np.empty((height, width), np.int32)
    K.composite_forward(recs, offsets, ids, width, height, tiles_x, background, color, alpha, depth, t_final, last)
    return color, alpha, depth, (recs, background, width, height, offsets, ids, tiles_x, t_final, last)


def _composite_display(recs: np.ndarray, width: int, height: int, background: np.ndarray):
    """Bin and blend for display (no gradient): colour ``(H,W,3)``, alpha ``(H,W)``, depth ``(H,W)``."""
    tiles_x, offsets, ids, color, alpha, depth = _bin_and_allocate(recs, width, height)
    DK.composite_display(recs, offsets, ids, width, height, tiles_x, background, color, alpha, depth)
    return color, alpha, depth


def _composite_backward(state, g_color, g_alpha, g_depth) -> tuple[np.ndarray, np.ndarray]:
    """Per-record gradients ``(M, NGRAD)`` and the background gradient ``(3,)``."""
    recs, background, width, height, offsets, ids, tiles_x, t_final, last = state
    g_entries = np.empty((ids.shape[0], K.NGRAD), np.float32)
    g_bg = np.empty((offsets.shape[0] - 1, 3), np.float32)
    K.composite_backward(
        recs, offsets, ids, width, height, tiles_x, background, t_final, last,
        _np32(g_color, (height, width, 3)), _np32(g_alpha, (height, width)), _np32(g_depth, (height, width)),
        g_entries, g_bg,
    )
    return K.reduce_entries(ids, g_entries, recs.shape[0]), g_bg.sum(0)


# ----------------------------------------------------------------- autograd
class _RasterizeOne(torch.autograd.Function):
    """One camera in classic mode: numba forward and analytic backward end to end."""

    @staticmethod
    def forward(ctx, means, quats, log_scales, opacity_logits, sh, background, camera, width, height,
                degree, eps2d, near_plane):
        arrays = tuple(_arr(t) for t in (means, quats, log_scales, opacity_logits, sh))
        cam = _camera_args(camera)
        recs, gaussian_ids = _project_fused(arrays, degree, cam, width, height, eps2d, near_plane, False)
        color, alpha, depth, state = _composite_forward(recs, width, height, _np32(background, (3,)))
        ctx.saved = (arrays, cam, degree, eps2d, gaussian_ids, state)
        ctx.dtypes = tuple(t.dtype for t in (means, quats, log_scales, opacity_logits, sh, background))
        return _images(color, alpha, depth)

    @staticmethod
    def backward(ctx, g_color, g_alpha, g_depth):
        arrays, cam, degree, eps2d, gaussian_ids, state = ctx.saved
        with _TorchThreads():
            g_recs, g_bg = _composite_backward(state, g_color, g_alpha, g_depth)
            grads = tuple(np.zeros_like(a) for a in arrays)
            width, height = state[2], state[3]
            PK.project_backward(*arrays, degree, *cam, width, height, np.float32(eps2d), gaussian_ids, g_recs,
                                *grads)
        out = [torch.from_numpy(g).to(dt) for g, dt in zip((*grads, g_bg), ctx.dtypes)]
        return (*out, None, None, None, None, None, None)


class _CompositeOnly(torch.autograd.Function):
    """Compiled compositing of already projected (PyTorch) Gaussians, with its backward."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, background, extents, width, height):
        with torch.no_grad():
            level = torch.log((opacities / ALPHA_MIN).clamp_min(1.0))
            recs = _arr(torch.cat(
                [means2d, conics, opacities[:, None], colors, depths[:, None], extents, level[:, None]], dim=1
            ))
        color, alpha, depth, ctx.state = _composite_forward(recs, width, height, _np32(background, (3,)))
        ctx.dtype = means2d.dtype
        return _images(color, alpha, depth)

    @staticmethod
    def backward(ctx, g_color, g_alpha, g_depth):
        with _TorchThreads():
            g_recs, g_bg = _composite_backward(ctx.state, g_color, g_alpha, g_depth)
        g = torch.from_numpy(g_recs).to(ctx.dtype)
        g_background = torch.from_numpy(g_bg).to(ctx.dtype)
        return g[:, 0:2], g[:, 2:5], g[:, 6:9], g[:, 5], g[:, 9], g_background, None, None, None


# ----------------------------------------------------------------- the backend
def _announce_compile(needs_grad: bool, antialiased: bool) -> None:
    """One line before the kernels this call needs compile from scratch (the first run after an install)."""
    composite = (K.bin_records, K.composite_forward)
    gradient = (K.composite_backward, K.reduce_entries)
    projection = (PK.project_records, PK.sorted_records)
    if not needs_grad:
        announce_compile("the CPU rasterizer kernels", projection + (K.bin_records, DK.composite_display),
                         "about a minute")
    elif antialiased:  # PyTorch projects, numba composites
        announce_compile("the CPU rasterizer kernels", composite + gradient, "one to two minutes")
    else:
        announce_compile("the CPU rasterizer kernels", projection + composite + gradient + (PK.project_backward,),
                         "one to three minutes")


def render(gaussians: Gaussians, cameras: Camera, width: int, height: int, background: Tensor,
           sh_degree: int | None, eps2d: float, near_plane: float, antialiased: bool) -> RenderOutput:
    """Render a batch of cameras (see :func:`vasa3d.render.rasterize` for the arguments).

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
    degree = _degree(gaussians, sh_degree)
    _announce_compile(needs_grad, antialiased)
    with _TorchThreads():
        colors, alphas, depths = _render_cameras(gaussians, cameras, width, height, background, sh_degree, degree,
                                                 eps2d, near_plane, antialiased, needs_grad)
    dtype = gaussians.means.dtype
    return RenderOutput(*(torch.stack(t).to(dtype) for t in (colors, alphas, depths)))


def _render_cameras(gaussians, cameras, width, height, background, sh_degree, degree, eps2d, near_plane,
                    antialiased, needs_grad):
    colors, alphas, depths = [], [], []
    for i in range(len(cameras)):
        if needs_grad and antialiased:
            p = project(gaussians, cameras[i], width, height, sh_degree, eps2d, near_plane, antialiased)
            c, a, d = _CompositeOnly.apply(p.means2d, p.conics, p.colors, p.opacities, p.depths, background[i],
                                           p.extents, width, height)
        elif needs_grad:
            c, a, d = _RasterizeOne.apply(*gaussians.tensors(), background[i], cameras[i], width, height,
                                          degree, eps2d, near_plane)
        else:
            arrays = tuple(_arr(t) for t in gaussians.tensors())
            recs, _ = _project_fused(arrays, degree, _camera_args(cameras[i]), width, height, eps2d,
                                     near_plane, antialiased)
            c, a, d = _images(*_composite_display(recs, width, height, _np32(background[i], (3,))))
        colors.append(c)
        alphas.append(a)
        depths.append(d)
    return colors, alphas, depths
