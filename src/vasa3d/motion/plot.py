"""A picture of generated motion: mouth, jaw, blink, gaze and pose curves under the waveform and phones."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vasa3d.errors import InputError
from vasa3d.motion.latent import MotionLatent
from vasa3d.motion.measure import lip_gap


def head_angles_deg(motion: MotionLatent) -> np.ndarray:
    """``(T, 3)`` yaw (toward the subject's left), pitch (chin up), roll in degrees from z_pose."""
    rot = Rotation.from_rotvec(motion.z_pose[:, :3].astype(np.float64))
    yaw, pitch_down, roll = rot.as_euler("YXZ").T
    return np.degrees(np.stack([yaw, -pitch_down, roll], axis=1))


def plot_motion(motion: MotionLatent, path: str | os.PathLike, samples: np.ndarray | None = None,
                sample_rate: int | None = None, phonemes: list[tuple[str, float, float]] | None = None,
                title: str | None = None) -> None:
    """Write a PNG (or any format matplotlib knows from the suffix) of the motion curves; atomic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "pdf", "svg", "jpg", "jpeg"):
        raise InputError(f"cannot write a plot as '.{fmt}'; use .png, .pdf or .svg")
    t = np.arange(len(motion)) / motion.fps
    rows = 5 if samples is not None else 4
    fig, axes = plt.subplots(rows, 1, figsize=(12, 1.9 * rows + 0.6), sharex=True)
    ax = iter(axes)
    if samples is not None:
        a = next(ax)
        x = np.asarray(samples, np.float32)
        ts = np.arange(len(x)) / float(sample_rate)
        step = max(1, len(x) // 20000)
        a.plot(ts[::step], x[::step], lw=0.4, color="0.3")
        a.set_ylabel("audio")
        a.set_ylim(-1.05, 1.05)
        for phone, start, end in phonemes or []:
            if phone == "SIL":
                continue
            colour = "tab:red" if phone in ("P", "B", "M") else "tab:blue"
            a.axvspan(start, end, color=colour, alpha=0.08 if colour == "tab:blue" else 0.2, lw=0)
            a.text((start + end) / 2, 0.85, phone, ha="center", va="center", fontsize=6, color=colour)
    a = next(ax)
    a.plot(t, motion.column("jawOpen"), label="jawOpen")
    a.plot(t, lip_gap(motion), label="lip gap")
    a.plot(t, motion.column("mouthClose"), label="mouthClose", lw=0.8)
    a.plot(t, motion.column("mouthPucker"), label="mouthPucker", lw=0.8)
    a.plot(t, 0.5 * (motion.column("mouthStretchLeft") + motion.column("mouthStretchRight")),
           label="mouthStretch", lw=0.8)
    a.set_ylabel("mouth")
    a.legend(loc="upper right", fontsize=7, ncol=5)
    a = next(ax)
    a.plot(t, motion.column("eyeBlinkLeft"), label="eyeBlinkLeft")
    a.plot(t, motion.column("eyeBlinkRight"), label="eyeBlinkRight", ls="--")
    a.set_ylabel("blink")
    a.legend(loc="upper right", fontsize=7, ncol=2)
    a = next(ax)
    a.plot(t, motion.column("eyeLookOutLeft") - motion.column("eyeLookInLeft"), label="gaze left-right")
    a.plot(t, motion.column("eyeLookUpLeft") - motion.column("eyeLookDownLeft"), label="gaze up-down")
    a.set_ylabel("gaze")
    a.legend(loc="upper right", fontsize=7, ncol=2)
    a = next(ax)
    ang = head_angles_deg(motion)
    for k, name in enumerate(("yaw", "pitch", "roll")):
        a.plot(t, ang[:, k], label=f"{name} (deg)")
    a.set_ylabel("head pose")
    a.set_xlabel("time (s)")
    a.legend(loc="upper right", fontsize=7, ncol=3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    from vasa3d.io.paths import atomic_output

    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110)
    finally:
        plt.close(fig)
