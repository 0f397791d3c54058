"""vasa3d: one portrait photo to an audio-driven 3D Gaussian talking head (VASA-3D)."""

import os
import sys
import types

# torch (OpenMP) and the numba rasterizer take turns on the same cores many
# times per frame.  With OpenMP's default spin-waiting, each pool's idle
# threads burn the cores the other one needs: a frame's deformation went from
# 22 ms to 450 ms after every numba call.  Passive waiting must be set before
# the OpenMP runtime loads, i.e. before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

#: the Python API, imported on first use so that ``import vasa3d`` (and ``vasa3d --help``) stays light
_API = {
    "create": "vasa3d.pipeline",
    "speak": "vasa3d.pipeline",
    "CreateConfig": "vasa3d.pipeline",
    "SpeakConfig": "vasa3d.pipeline",
    "render": "vasa3d.drive",
    "reenact": "vasa3d.drive",
    "RenderConfig": "vasa3d.drive",
    "export": "vasa3d.export",
    "load_avatar": "vasa3d.io",
    "save_avatar": "vasa3d.io",
    "read_motion": "vasa3d.motion.files",
    "MotionLatent": "vasa3d.motion.latent",
    "LiveSession": "vasa3d.live",
    "LiveConfig": "vasa3d.live",
    "LiveControls": "vasa3d.live",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vasa3d' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """``vasa3d.render`` and ``vasa3d.export`` are both API functions and submodules: importing the
    submodule would make the package attribute the module, so the function is kept.  Import from the
    submodules by name (``from vasa3d.render import rasterize``), never as ``vasa3d.render.rasterize``."""

    def __setattr__(self, name: str, value) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
