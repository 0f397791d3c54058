"""vasa3d: one portrait photo to an audio-driven 3D Gaussian talking head (VASA-3D)."""

__version__ = "0.1.0"
