"""Every motion file vasa3d reads, behind one call: ``read_motion(path)``.

- ``.npz``: vasa3d's own motion file (:meth:`MotionLatent.save`, ``vasa3d motion``);
- ``.csv``: ARKit weights as Live Link Face records them, with ``HeadYaw``/``HeadPitch``/``HeadRoll``
  (:meth:`MotionLatent.load_arkit_csv`, the layout ``vasa3d motion --csv`` writes);
- ``.json``: ARKit blendshape JSON (:func:`vasa3d.head.arkit_io.read_arkit`).
"""

from __future__ import annotations

import os
from pathlib import Path

from vasa3d.errors import InputError
from vasa3d.motion.latent import MotionLatent

MOTION_SUFFIXES = (".npz", ".csv", ".json")


def read_motion(path: str | os.PathLike, fps: float | None = None) -> MotionLatent:
    """Read a motion file by its suffix (see the module notes); ``fps`` overrides a CSV/JSON frame rate."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise InputError(f"{p}: unknown motion file type {suffix or '(none)'!r}; give a vasa3d .npz "
                         "(from 'vasa3d motion'), an ARKit .csv (Live Link Face) or an ARKit .json")
    if not p.is_file():
        raise InputError(f"motion file not found: {p}")
    if suffix == ".npz":
        motion = MotionLatent.load(p)
    elif suffix == ".csv":
        motion = MotionLatent.load_arkit_csv(p, fps=fps)
    else:
        from vasa3d.head.arkit_io import read_arkit

        motion = read_arkit(p, fps=fps)
    if len(motion) == 0:
        raise InputError(f"{p} holds no frames")
    return motion
