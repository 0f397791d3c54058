"""The ``gsplat`` backend: nerfstudio's CUDA rasterizer behind our API.

Needs a CUDA GPU and the optional extra (``pip install "vasa3d[cuda]"``,
which pins gsplat 1.5.3); gsplat is imported only when this backend runs.
Its conventions are ours: OpenCV cameras (``viewmats`` = world-to-camera),
wxyz quaternions, the 3DGS SH basis with +0.5 and clamping, 1/255 alpha
threshold, 0.999 alpha clamp, 1e-4 transmittance cut-off and ``eps2d``
dilation; ``antialiased=True`` maps to ``rasterize_mode="antialiased"``.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

from ..errors import VasaError
from .camera import Camera
from .types import Gaussians, RenderOutput


def available() -> bool:
    """Whether gsplat is installed and a CUDA device is present."""
    return torch.cuda.is_available() and importlib.util.find_spec("gsplat") is not None


def render(gaussians: Gaussians, cameras: Camera, width: int, height: int, background: Tensor,
           sh_degree: int | None, eps2d: float, near_plane: float, antialiased: bool) -> RenderOutput:
    """Render a batch of cameras with ``gsplat.rasterization`` (colour, alpha and accumulated depth)."""
    try:
        import gsplat
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise VasaError('the gsplat backend needs gsplat: pip install "vasa3d[cuda]" on a machine with CUDA') from exc
    device = gaussians.means.device
    if device.type != "cuda":
        raise VasaError("the gsplat backend renders CUDA tensors; move the Gaussians to the GPU with .to('cuda')")
    degree = gaussians.sh_degree if sh_degree is None else min(sh_degree, gaussians.sh_degree)
    f32 = torch.float32
    colors, alphas, _ = gsplat.rasterization(
        means=gaussians.means.to(f32),
        quats=gaussians.quats.to(f32),
        scales=torch.exp(gaussians.log_scales).to(f32),
        opacities=torch.sigmoid(gaussians.opacity_logits).to(f32),
        colors=gaussians.sh.to(f32),
        viewmats=cameras.world_to_cam.to(device=device, dtype=f32),
        Ks=cameras.K.to(device=device, dtype=f32),
        width=width,
        height=height,
        near_plane=near_plane,
        eps2d=eps2d,
        sh_degree=degree,
        backgrounds=background.to(f32),
        render_mode="RGB+D",
        rasterize_mode="antialiased" if antialiased else "classic",
    )
    dtype = gaussians.means.dtype
    return RenderOutput(colors[..., :3].to(dtype), alphas.to(dtype), colors[..., 3:4].to(dtype))
