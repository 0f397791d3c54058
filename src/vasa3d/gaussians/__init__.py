"""Gaussians bound to the head mesh, base and VAS deformation (paper, section 3.1)."""

from .avatar import AvatarConfig, GaussianAvatar
from .binding import TriangleFrames, bind, triangle_frames, unbind

__all__ = ["AvatarConfig", "GaussianAvatar", "TriangleFrames", "bind", "triangle_frames", "unbind"]
