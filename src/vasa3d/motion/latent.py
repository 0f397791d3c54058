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
#: the most frames a motion file may hold: the longest audio read (4 hours,
#: :data:`vasa3d.io.media.MAX_AUDIO_SECONDS`) at a face-capture app's 60 fps; and the most columns of z_dyn
#: (52 ARKit weights here, FLAME's 100 expressions with the rest at most) and z_pose (7). A stranger's
#: compressed .npz can claim 1,000 times its size; these bound what it can make us allocate (0.5 GB) before
#: any array is read
MAX_MOTION_FRAMES = 4 * 3600 * 60
MAX_DYN_COLUMNS = 128
MAX_POSE_COLUMNS = 16


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

        names = [n.lower() for n in ARKIT_NAMES]
        n_rows, last_frame, stamps = 0, -1, True
        try:
            # the rows are counted first and parsed one by one into one array: the memory taken follows
            # the frames (about 1.1 times the text at most), and a file with too many is refused unparsed
            lines = _count_lines(path)
            if lines > MAX_MOTION_FRAMES + 2:  # the header, and a last line without a line end
                raise InputError(f"{path} holds more than {MAX_MOTION_FRAMES:,} frames (4 hours at 60 fps); split it")
            with open(path, newline="") as f:
                reader = csv.reader(f)
                header = [h.strip().lower() for h in next(reader, [])]
                index = {h: i for i, h in enumerate(header)}
                if header and sum(n in index for n in names) < 10:
                    raise InputError(f"{path} does not look like an ARKit CSV (too few blendshape columns)")
                cols = [index.get(n, -1) for n in names] + [index.get(k, -1) for k in ("headyaw", "headpitch",
                                                                                          "headroll")]
                stamp = index.get("timecode")
                values = np.zeros((lines, len(cols)), np.float64)
                for r in reader:
                    if not r:
                        continue
                    values[n_rows] = [float(r[c]) if c >= 0 else 0.0 for c in cols]
                    n_rows += 1
                    if stamp is not None and stamps:  # HH:MM:SS:FF(.fff): the largest frame number + 1
                        try:
                            last_frame = max(last_frame, int(float(r[stamp].split(":")[-1])))
                        except (ValueError, IndexError):
                            stamps = False
        except FileNotFoundError:
            raise InputError(f"ARKit CSV not found: {path}") from None
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(f"{path} is not a readable CSV file ({exc.__class__.__name__})") from None
        except (ValueError, IndexError) as exc:  # IndexError also where rows outnumber the lines (a lying file)
            raise InputError(f"{path} has a malformed row ({exc}); every value must be a number") from None
        if n_rows == 0:
            raise InputError(f"{path} has no frames; expected a header row and one row per frame")
        values = values[:n_rows]
        if fps is None:
            fps = float(last_frame + 1) if stamp is not None and stamps and last_frame >= 20 else 25.0
        yaw, pitch, roll = values[:, len(names):].T
        rotvec = Rotation.from_euler("YXZ", np.stack([yaw, -pitch, roll], axis=1)).as_rotvec()
        z_pose = np.zeros((n_rows, len(POSE_NAMES)), np.float32)
        z_pose[:, :3] = rotvec
        z_dyn = values[:, :len(names)].astype(np.float32)
        del values, yaw, pitch, roll
        return cls(np.clip(z_dyn, 0.0, 1.0, out=z_dyn), z_pose, fps)

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
            if dyn[0] > MAX_MOTION_FRAMES or dyn[1] > MAX_DYN_COLUMNS or pose[1] > MAX_POSE_COLUMNS:
                raise InputError(f"{path} claims {dyn[0]:,} frames of {dyn[1]} + {pose[1]} values; a motion file "
                                 f"may hold at most {MAX_MOTION_FRAMES:,} frames (4 hours at 60 fps) of at most "
                                 f"{MAX_DYN_COLUMNS} + {MAX_POSE_COLUMNS}: split it, or make it again with "
                                 "'vasa3d motion'")
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                return cls(data["z_dyn"], data["z_pose"], float(meta["fps"]), meta["schema"],
                           tuple(meta["dyn_names"]), tuple(meta["pose_names"]))
        except FileNotFoundError:
            raise InputError(f"motion file not found: {path}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} is not a vasa3d motion file ({str(exc)[:80]}); make one with 'vasa3d motion'") from None


def _count_lines(path: str | os.PathLike) -> int:
    """At least as many as the lines of a text file (with any line ends), counted in 1 MiB reads."""
    lf = cr = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lf += chunk.count(b"\n")
            cr += chunk.count(b"\r")
    return max(lf, cr) + 1  # the last line may have no line end
