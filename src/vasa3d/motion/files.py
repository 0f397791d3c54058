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
#: the largest ARKit .json read (about 50 minutes at 60 fps): JSON is parsed whole, at about 15 times its size
#: in memory, so this bounds it (1 GiB at the limit). Every reader refuses more than
#: :data:`~vasa3d.motion.latent.MAX_MOTION_FRAMES` before it builds the arrays
MAX_JSON_MOTION_BYTES = 64 << 20


def read_motion(path: str | os.PathLike, fps: float | None = None) -> MotionLatent:
    """Read a motion file by its suffix (see the module notes); ``fps`` overrides a CSV/JSON frame rate."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise InputError(f"{p}: unknown motion file type {suffix or '(none)'!r}; give a vasa3d .npz "
                         "(from 'vasa3d motion'), an ARKit .csv (Live Link Face) or an ARKit .json")
    if not p.is_file():
        raise InputError(f"motion file not found: {p}")
    if suffix == ".json" and p.stat().st_size > MAX_JSON_MOTION_BYTES:
        raise InputError(f"{p} is {p.stat().st_size / (1 << 20):,.0f} MiB; an ARKit .json may be at most "
                         f"{MAX_JSON_MOTION_BYTES >> 20} MiB (about 50 minutes at 60 fps): split it, or give it as "
                         "a CSV")
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
