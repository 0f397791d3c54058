"""vasa3d: one portrait photo to an audio-driven 3D Gaussian talking head (VASA-3D)."""

import os

# torch (OpenMP) and the numba rasterizer take turns on the same cores many
# times per frame.  With OpenMP's default spin-waiting, each pool's idle
# threads burn the cores the other one needs: a frame's deformation went from
# 22 ms to 450 ms after every numba call.  Passive waiting must be set before
# the OpenMP runtime loads, i.e. before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
