"""Drawing Gaussians: ``rasterize()`` and its backends, cameras, PLY files."""

from .camera import Camera
from .rasterize import available_backends, rasterize
from .types import Gaussians, RenderOutput

__all__ = ["Camera", "Gaussians", "RenderOutput", "available_backends", "rasterize"]
