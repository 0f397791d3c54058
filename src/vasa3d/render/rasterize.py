"""``rasterize()``: the one entry point that draws Gaussians, whatever the backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from ..errors import VasaError
from . import backend_cpu, backend_gsplat, backend_torch
from .camera import Camera
from .types import Gaussians, RenderOutput

Backend = Literal["auto", "cpu", "torch", "gsplat"]


def _backends() -> dict[str, Callable]:
    names = {
        "cpu": backend_cpu.render,
        "torch": backend_torch.render,
    }
    if backend_gsplat.available():
        names["gsplat"] = backend_gsplat.render
    return names


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine, best first."""
    return [name for name in ("gsplat", "cpu", "torch") if name in _backends()]


def _pick(backend: str, device: torch.device) -> str:
    names = _backends()
    if backend == "auto":
        if device.type == "cuda":
            # without gsplat, the plain-torch reference still runs on the GPU
            return "gsplat" if "gsplat" in names else "torch"
        return "cpu"
    if backend not in ("cpu", "torch", "gsplat"):
        raise VasaError(f"unknown render backend {backend!r}; use one of auto, cpu, torch, gsplat")
    if backend not in names:
        raise VasaError(
            'render backend "gsplat" needs a CUDA GPU and gsplat (pip install "vasa3d[cuda]"); '
            "use backend='auto' or 'cpu'"
        )
    return backend


def rasterize(
    gaussians: Gaussians,
    cameras: Camera,
    width: int,
    height: int,
    background: Tensor | None = None,
    backend: Backend = "auto",
    sh_degree: int | None = None,
    *,
    antialiased: bool = False,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
) -> RenderOutput:
    """Render ``gaussians`` from one camera or a batch of ``B`` cameras.

    Args:
        gaussians: ``N`` Gaussians in world coordinates (see :class:`Gaussians`).
        cameras: a single camera (``K (3,3)``) or a batch (``K (B,3,3)``); see
            :mod:`vasa3d.render.camera` for the convention.  Its own
            ``width``/``height`` are ignored in favour of the arguments.
        width, height: image size in pixels.
        background: colour behind the Gaussians, ``(3,)`` or ``(B, 3)``; black by default.
        backend: ``"auto"`` (gsplat for CUDA tensors when installed, else ``"cpu"``),
            ``"cpu"`` (compiled kernels), ``"torch"`` (plain-PyTorch reference)
            or ``"gsplat"``.
        sh_degree: spherical-harmonic degree to evaluate, 0..3; ``None`` uses all
            the coefficients in ``gaussians.sh``.
        antialiased: multiply opacities by the dilation compensation (gsplat's
            ``rasterize_mode="antialiased"``).
        eps2d: screen-space dilation in px^2 added to every 2D covariance.
        near_plane: Gaussians with camera depth below this (metres) are dropped.

    Returns:
        :class:`RenderOutput` with ``color (B,H,W,3)``, ``alpha (B,H,W,1)`` and
        ``depth (B,H,W,1)`` (the alpha-weighted sum of centre depths; divide by
        alpha for the expected depth).  Always batched, even for one camera.
        Differentiable with respect to every tensor of ``gaussians`` (not the
        cameras).

    Example:
        >>> cam = Camera.orbit(yaw_deg=20, distance=1.0, width=256, height=256)
        >>> out = rasterize(gaussians, cam, 256, 256, background=torch.ones(3))
        >>> out.color.shape
        torch.Size([1, 256, 256, 3])
    """
    device = gaussians.means.device
    dtype = gaussians.means.dtype
    cams = cameras.batched.to(device)
    n_cams = len(cams)
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if background is None:
        background = torch.zeros(n_cams, 3, dtype=dtype, device=device)
    background = torch.as_tensor(background, dtype=dtype, device=device)
    background = background.reshape(-1, 3).expand(n_cams, 3)
    name = _pick(backend, device)
    return _backends()[name](
        gaussians, cams, width, height, background, sh_degree, eps2d, near_plane, antialiased
    )
