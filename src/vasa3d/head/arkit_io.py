"""ARKit blendshape weights as face-capture apps export them: CSV and JSON.

CSV (the layout of Live Link Face and similar apps)::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,TongueOut[,HeadYaw,HeadPitch,HeadRoll,...]
    00:00:01:02.000,52,0.01,0.12,...

Names match case-insensitively (apps write ``EyeBlinkLeft``, ARKit says
``eyeBlinkLeft``); unknown columns are ignored; missing blendshapes read as 0.
``HeadYaw``/``HeadPitch``/``HeadRoll`` (radians) become the pose rotation when
present.  The timecode is ``HH:MM:SS:FF[.sub]``; the frame rate is taken from
the argument, or from the largest frame number seen (+1), or 60.

JSON::

    {"format": "arkit-blendshapes", "fps": 25, "names": [...52], "frames": [[...52], ...]}

or a list of per-frame objects ``[{"eyeBlinkLeft": 0.1, ...}, ...]``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.errors import InputError
from vasa3d.motion import latent as _latent
from vasa3d.motion.latent import POSE_NAMES, MotionLatent

_LOWER = {n.lower(): i for i, n in enumerate(ARKIT_NAMES)}


def _timecode(t: float, fps: float) -> str:
    frames = int(round(t * fps))
    per_s = max(1, int(round(fps)))
    s, f = divmod(frames, per_s)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}.000"


def _euler_to_axis_angle(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Yaw about +y, pitch about +x, roll about +z, applied roll-pitch-yaw -> axis-angle."""
    import torch

    from vasa3d.head.lbs import axis_angle_to_matrix, matrix_to_axis_angle

    Ry = axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0]))
    Rx = axis_angle_to_matrix(torch.tensor([pitch, 0.0, 0.0]))
    Rz = axis_angle_to_matrix(torch.tensor([0.0, 0.0, roll]))
    return matrix_to_axis_angle(Ry @ Rx @ Rz).numpy()


def _atomic_write(path: Path, text: str) -> None:
    if not path.parent.exists():
        raise InputError(f"output folder does not exist: {path.parent}")
    from vasa3d.io.paths import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_arkit_csv(path: str | os.PathLike, motion: MotionLatent) -> None:
    """Write ``motion.z_dyn`` as an ARKit CSV (atomic)."""
    _check(motion)
    rows = [",".join(["Timecode", "BlendShapeCount"] + [n[0].upper() + n[1:] for n in ARKIT_NAMES])]
    for t, w in enumerate(motion.z_dyn):
        rows.append(",".join([_timecode(t / motion.fps, motion.fps), str(len(ARKIT_NAMES))] +
                             [f"{float(x):.6g}" for x in w]))
    _atomic_write(Path(path), "\n".join(rows) + "\n")


def write_arkit_json(path: str | os.PathLike, motion: MotionLatent) -> None:
    """Write ``motion.z_dyn`` (and the pose) as ARKit JSON (atomic)."""
    _check(motion)
    doc = {"format": "arkit-blendshapes", "fps": motion.fps, "names": list(ARKIT_NAMES),
           "frames": np.round(motion.z_dyn.astype(np.float64), 6).tolist(),
           "pose_names": list(POSE_NAMES), "pose": np.round(motion.z_pose.astype(np.float64), 6).tolist()}
    _atomic_write(Path(path), json.dumps(doc))


def _check(motion: MotionLatent) -> None:
    if tuple(motion.dyn_names) != ARKIT_NAMES:
        raise InputError(f"motion schema {motion.schema!r} does not hold ARKit weights")


def read_arkit(path: str | os.PathLike, fps: float | None = None) -> MotionLatent:
    """Read ARKit weights from a ``.csv`` or ``.json`` file into a :class:`MotionLatent`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ARKit file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} as text ({exc}); give an ARKit .csv or .json") from None
    if not text.strip():
        raise InputError(f"{path} is empty; give an ARKit .csv or .json export")
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        return _read_json(path, text, fps)
    return _read_csv(path, text, fps)


def _read_csv(path: Path, text: str, fps: float | None) -> MotionLatent:
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip() for h in rows[0]]
    cols = {h.lower(): k for k, h in enumerate(header)}
    found = [n for n in _LOWER if n in cols]
    if not found:
        raise InputError(f"{path} has no ARKit blendshape columns (expected e.g. 'EyeBlinkLeft'); "
                         "export the CSV from a face-capture app")
    data = [r for r in rows[1:] if any(c.strip() for c in r)]
    T = len(data)
    if T == 0:
        raise InputError(f"{path} has a header but no frames")
    z = np.zeros((T, len(ARKIT_NAMES)), np.float32)
    pose = np.zeros((T, len(POSE_NAMES)), np.float32)
    max_frame = 0
    try:
        for t, r in enumerate(data):
            for name in found:
                z[t, _LOWER[name]] = float(r[cols[name]])
            if all(k in cols for k in ("headyaw", "headpitch", "headroll")):
                pose[t, :3] = _euler_to_axis_angle(float(r[cols["headyaw"]]), float(r[cols["headpitch"]]),
                                                   float(r[cols["headroll"]]))
            if "timecode" in cols:
                parts = r[cols["timecode"]].split(":")
                if len(parts) == 4:
                    max_frame = max(max_frame, int(float(parts[3])))
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: bad value in frame {t + 1} ({exc})") from None
    if fps is None:
        fps = float(max_frame + 1) if max_frame >= 23 else 60.0
    return MotionLatent(np.clip(z, 0.0, 1.0), pose, fps=fps)


def _read_json(path: Path, text: str, fps: float | None) -> MotionLatent:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    count = len(doc) if isinstance(doc, list) else len(doc.get("frames", ())) if isinstance(doc, dict) else 0
    if count > _latent.MAX_MOTION_FRAMES:  # before the arrays: a 64 MiB list of empty frames is 22 million of them
        raise InputError(f"{path} holds {count:,} frames; a motion file may hold at most "
                         f"{_latent.MAX_MOTION_FRAMES:,} (4 hours at 60 fps): split it")
    try:
        if isinstance(doc, list):
            frames = doc
            z = np.array([[float(f.get(n, f.get(n[0].upper() + n[1:], 0.0))) for n in ARKIT_NAMES] for f in frames],
                         np.float32)
            pose = np.zeros((len(z), len(POSE_NAMES)), np.float32)
            fps = fps or 60.0
        else:
            names = [n.lower() for n in doc["names"]]
            raw = np.asarray(doc["frames"], np.float32).reshape(len(doc["frames"]), len(names))
            z = np.zeros((len(raw), len(ARKIT_NAMES)), np.float32)
            for k, n in enumerate(names):
                if n in _LOWER:
                    z[:, _LOWER[n]] = raw[:, k]
            pose = np.asarray(doc.get("pose", np.zeros((len(z), len(POSE_NAMES)))), np.float32)
            fps = fps or float(doc.get("fps", 60.0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path} is not an ARKit blendshape JSON ({exc})") from None
    if len(z) == 0:
        raise InputError(f"{path} holds no frames")
    if not math.isfinite(fps) or fps <= 0:
        raise InputError(f"{path}: bad frame rate {fps}")
    return MotionLatent(np.clip(z, 0.0, 1.0), pose, fps=fps)
