"""Drawing Gaussians: ``rasterize()`` and its backends, cameras, PLY files.

Nothing outside this package imports a backend module; everything goes
through :func:`rasterize` with ``backend="auto" | "cpu" | "torch" | "gsplat"``.
"""

from ._malloc import raise_mmap_threshold
from .camera import Camera
from .ply import load_ply, save_ply
from .rasterize import available_backends, rasterize
from .types import Gaussians, RenderOutput

raise_mmap_threshold()  # keep large torch temporaries in the heap (see _malloc)

__all__ = ["Camera", "Gaussians", "RenderOutput", "available_backends", "load_ply", "rasterize", "save_ply"]
