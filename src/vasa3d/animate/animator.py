"""The portrait-animator interface and the registry of animators by name."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from vasa3d.errors import InputError
from vasa3d.render.camera import Camera

__all__ = ["Animator", "ANIMATORS", "make_animator"]


@runtime_checkable
class Animator(Protocol):
    """Makes one frame of the portrait's person from a motion latent, seen by a camera.

    ``animator(z_dyn (Dd,), z_pose (Dp,), camera) -> (rgb (H, W, 3) uint8, mask (H, W) float32 in [0, 1])``
    with ``H, W`` the camera's image size.  Deterministic: the same inputs give the same frame.
    """

    def __call__(self, z_dyn: np.ndarray, z_pose: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
        ...


def _meshwarp(analysis, fit, head, **kw):
    from vasa3d.animate.meshwarp import MeshWarpAnimator, MeshWarpConfig

    return MeshWarpAnimator(analysis, fit, head, MeshWarpConfig(**kw))


#: animators by name: ``name -> builder(analysis, fit, head, **config)``
ANIMATORS = {"meshwarp": _meshwarp}


def make_animator(name: str, analysis, fit, head, **config) -> Animator:
    """Build the animator called ``name`` (``"meshwarp"``) for one fitted portrait."""
    if name not in ANIMATORS:
        raise InputError(f"unknown animator '{name}'; choose one of: {', '.join(ANIMATORS)}")
    return ANIMATORS[name](analysis, fit, head, **config)
