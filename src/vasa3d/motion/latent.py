"""The motion latent x = [z_dyn, z_pose] that drives every frame (paper, section 3.1)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.errors import InputError

DEFAULT_SCHEMA = "arkit52+pose"
#: z_pose layout of the default schema: axis-angle rotation (3), translation in metres (3), log scale (1).
POSE_NAMES: tuple[str, ...] = ("rot_x", "rot_y", "rot_z", "tx", "ty", "tz", "log_scale")


@dataclass
class MotionLatent:
    """Per-frame motion of a talking head.

    Attributes:
        z_dyn: ``(T, Dd)`` facial dynamics; for ``arkit52+pose`` the 52 ARKit weights in
            :data:`vasa3d.arkit.ARKIT_NAMES` order, each in [0, 1].
        z_pose: ``(T, Dp)`` head pose; for ``arkit52+pose`` :data:`POSE_NAMES`: head rotation
            (axis-angle, radians, in the world frame of :mod:`vasa3d.render.camera`),
            translation (metres) and a log distance/scale term.
        fps: frames per second.
        schema: the latent kind; other generators may carry other layouts.
        dyn_names, pose_names: column names of ``z_dyn`` and ``z_pose``.
    """

    z_dyn: np.ndarray
    z_pose: np.ndarray
    fps: float = 25.0
    schema: str = DEFAULT_SCHEMA
    dyn_names: tuple[str, ...] = field(default=ARKIT_NAMES)
    pose_names: tuple[str, ...] = field(default=POSE_NAMES)

    def __post_init__(self) -> None:
        self.z_dyn = np.asarray(self.z_dyn, dtype=np.float32)
        self.z_pose = np.asarray(self.z_pose, dtype=np.float32)
        if self.z_dyn.ndim != 2 or self.z_pose.ndim != 2 or len(self.z_dyn) != len(self.z_pose):
            raise ValueError(
                f"z_dyn and z_pose must be (T, D) with the same T, got {self.z_dyn.shape} and {self.z_pose.shape}"
            )
        if self.z_dyn.shape[1] != len(self.dyn_names) or self.z_pose.shape[1] != len(self.pose_names):
            raise ValueError("column names do not match the latent's width")

    def __len__(self) -> int:
        return len(self.z_dyn)

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    @classmethod
    def neutral(cls, frames: int, fps: float = 25.0) -> "MotionLatent":
        """A still, neutral, front-facing head for ``frames`` frames."""
        return cls(np.zeros((frames, len(ARKIT_NAMES))), np.zeros((frames, len(POSE_NAMES))), fps)

    def column(self, name: str) -> np.ndarray:
        """One named channel ``(T,)`` of z_dyn or z_pose."""
        if name in self.dyn_names:
            return self.z_dyn[:, self.dyn_names.index(name)]
        if name in self.pose_names:
            return self.z_pose[:, self.pose_names.index(name)]
        raise KeyError(name)

    def slice(self, start: int, stop: int) -> "MotionLatent":
        return MotionLatent(self.z_dyn[start:stop], self.z_pose[start:stop], self.fps, self.schema,
                            self.dyn_names, self.pose_names)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` (arrays) with a JSON header (schema, fps, names); atomic."""
        path = Path(path)
        meta = {"format": "vasa3d-motion", "version": 1, "schema": self.schema, "fps": self.fps,
                "dyn_names": list(self.dyn_names), "pose_names": list(self.pose_names)}
        from vasa3d.io.paths import atomic_output

        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, z_dyn=self.z_dyn, z_pose=self.z_pose,
                     meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))

    def save_arkit_csv(self, path: str | os.PathLike) -> None:
        """Write the ``arkit52+pose`` latent as a face-capture CSV (the Live Link Face layout); atomic.

        Columns: ``Timecode`` (HH:MM:SS:FF.mmm), ``BlendShapeCount`` (52), the 52 weights with
        capitalised names (``EyeBlinkLeft`` ...), then ``HeadYaw``, ``HeadPitch``, ``HeadRoll`` in
        radians (yaw toward the subject's left, pitch chin-up, roll about the view axis).
        """
        if self.schema != DEFAULT_SCHEMA:
            raise InputError(f"only '{DEFAULT_SCHEMA}' motion can be written as ARKit CSV, this is '{self.schema}'")
        from scipy.spatial.transform import Rotation

        rot = Rotation.from_rotvec(self.z_pose[:, :3].astype(np.float64))
        yaw, pitch_down, roll = rot.as_euler("YXZ").T
        header = ["Timecode", "BlendShapeCount"] + [n[0].upper() + n[1:] for n in self.dyn_names] + [
            "HeadYaw", "HeadPitch", "HeadRoll"]
        fps = int(round(self.fps))
        lines = [",".join(header)]
        for i in range(len(self)):
            seconds, frame = divmod(i, fps)
            h, rem = divmod(seconds, 3600)
            m, sec = divmod(rem, 60)
            stamp = f"{h:02d}:{m:02d}:{sec:02d}:{frame:02d}.000"
            values = [f"{v:.6f}" for v in self.z_dyn[i]] + [f"{yaw[i]:.6f}", f"{-pitch_down[i]:.6f}", f"{roll[i]:.6f}"]
            lines.append(",".join([stamp, str(len(self.dyn_names))] + values))
        from vasa3d.io.paths import atomic_output

        with atomic_output(path) as tmp:
            tmp.write_text("\n".join(lines) + "\n")

    @classmethod
    def load_arkit_csv(cls, path: str | os.PathLike, fps: float | None = None) -> "MotionLatent":
        """Read a face-capture CSV (the Live Link Face layout :meth:`save_arkit_csv` writes).

        Blendshape columns are matched by name (case-insensitive; missing ones are 0); head
        rotation comes from ``HeadYaw``/``HeadPitch``/``HeadRoll`` (radians) when present.
        ``fps`` defaults to the frame rate read from the timecodes, else 25.
        """
        import csv

        from scipy.spatial.transform import Rotation

        try:
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
        except FileNotFoundError:
            raise InputError(f"ARKit CSV not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not a readable CSV file ({exc.__class__.__name__})") from None
        if len(rows) < 2:
            raise InputError(f"{path} has no frames; expected a header row and one row per frame")
        header = [h.strip().lower() for h in rows[0]]
        index = {h: i for i, h in enumerate(header)}
        names = [n.lower() for n in ARKIT_NAMES]
        if sum(n in index for n in names) < 10:
            raise InputError(f"{path} does not look like an ARKit CSV (too few blendshape columns)")
        try:
            data = [[float(r[index[n]]) if n in index else 0.0 for n in names] for r in rows[1:] if r]
            head = [[float(r[index[k]]) if k in index else 0.0 for k in ("headyaw", "headpitch", "headroll")]
                    for r in rows[1:] if r]
        except (ValueError, IndexError) as exc:
            raise InputError(f"{path} has a malformed row ({exc}); every value must be a number") from None
        if fps is None:
            fps = 25.0
            if "timecode" in index:  # HH:MM:SS:FF(.fff): the largest frame number + 1
                try:
                    frames = [int(float(r[index["timecode"]].split(":")[-1])) for r in rows[1:] if r]
                    if max(frames) >= 20:
                        fps = float(max(frames) + 1)
                except (ValueError, IndexError):
                    pass
        yaw, pitch, roll = np.asarray(head, np.float64).T
        rotvec = Rotation.from_euler("YXZ", np.stack([yaw, -pitch, roll], axis=1)).as_rotvec()
        z_pose = np.zeros((len(data), len(POSE_NAMES)), np.float32)
        z_pose[:, :3] = rotvec
        return cls(np.clip(np.asarray(data, np.float32), 0.0, 1.0), z_pose, fps)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MotionLatent":
        """Read a file written by :meth:`save` (never unpickles; every size a header claims is checked
        against the file before an array is read)."""
        import zipfile

        from vasa3d.io.npz import npz_layout

        try:
            os.stat(path)  # a missing file is named as such below
            if not zipfile.is_zipfile(path):  # a bare .npy array: no schema, no fps
                raise ValueError("a bare array, not an .npz with z_dyn, z_pose and meta")
            layout = npz_layout(path)
            if not {"z_dyn", "z_pose", "meta"} <= set(layout):
                raise ValueError(f"arrays {sorted(layout)[:5]}, not z_dyn, z_pose and meta")
            (_, dyn), (_, pose), (_, meta) = layout["z_dyn"], layout["z_pose"], layout["meta"]
            if len(dyn) != 2 or len(pose) != 2 or dyn[0] != pose[0] or len(meta) != 1 or meta[0] > 1 << 20:
                raise ValueError(f"z_dyn {dyn}, z_pose {pose} and meta {meta} do not fit together")
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                return cls(data["z_dyn"], data["z_pose"], float(meta["fps"]), meta["schema"],
                           tuple(meta["dyn_names"]), tuple(meta["pose_names"]))
        except FileNotFoundError:
            raise InputError(f"motion file not found: {path}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} is not a vasa3d motion file ({str(exc)[:80]}); make one with 'vasa3d motion'") from None
