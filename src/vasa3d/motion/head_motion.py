"""Head pose from prosody: idle sway and breathing, nods on stressed syllables, pitch-driven chin raises.

All angles here are degrees: ``yaw`` turns the face toward the subject's left,
``pitch`` raises the chin, ``roll`` tilts the head toward the subject's left shoulder
(rotation about +z). :func:`pose_vectors` converts them to the z_pose layout.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vasa3d.motion.idle import SmoothNoise

#: Rotation pivot of the head (the top of the neck) in the head frame, metres.
NECK_PIVOT = np.array([0.0, -0.09, -0.03])
#: Hard limits of the generated angles (yaw, pitch, roll), degrees: natural talking ranges.
ANGLE_LIMITS = np.array([18.0, 12.0, 8.0])


class HeadMotion:
    """Per-frame head angles (degrees) and sway (metres) from per-frame prosody.

    ``step(frames, activity, onset, f0_dev)`` with per-frame arrays:
    ``activity`` speech presence in [0, 1], ``onset`` loudness-rise strength >= 0,
    ``f0_dev`` pitch above the speaker's running mean in semitones (0 unvoiced).
    """

    def __init__(self, fps: float, seed: int, intensity: float = 1.0, pitch_offset_deg: float = 0.0):
        self.fps = fps
        self.intensity = intensity
        self.pitch_offset = pitch_offset_deg
        self.fast = SmoothNoise(fps, 3, 0.5, seed, 0xA1)
        self.slow = SmoothNoise(fps, 3, 2.5, seed, 0xA2)
        self.sway = SmoothNoise(fps, 3, 1.5, seed, 0xA3)
        rng = np.random.default_rng((seed, 0xA4))
        self.breath_hz = float(rng.uniform(0.22, 0.3))
        self.breath_phase = float(rng.uniform(0, 2 * np.pi))
        self.act = 0.0
        # nod oscillator state (pitch degrees, velocity), 2 Hz, damped
        self.nod = np.zeros(2)
        self.w = 2 * np.pi * 1.8
        self.zeta = 0.75
        self.chin = 0.0

    def step(self, frames: np.ndarray, activity: np.ndarray, onset: np.ndarray, f0_dev: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Returns angles ``(F, 3)`` degrees (yaw, pitch, roll) and sway ``(F, 3)`` metres."""
        n = len(frames)
        fast, slow, sway = self.fast.values(frames), self.slow.values(frames), self.sway.values(frames)
        dt = 1.0 / self.fps
        a_act = 1 - np.exp(-dt / 0.6)
        a_chin = 1 - np.exp(-dt / 0.25)
        act = np.empty(n)
        nod = np.empty(n)
        chin = np.empty(n)
        w, zeta = self.w, self.zeta
        x, v = float(self.nod[0]), float(self.nod[1])
        for i in range(n):  # the recursive parts, on plain floats
            self.act += a_act * (float(activity[i]) - self.act)
            # nods: a damped spring kicked down by each stressed onset
            acc = -30.0 * float(onset[i]) * w - w * w * x - 2 * zeta * w * v
            v += acc * dt
            x += v * dt
            self.chin += a_chin * (min(max(float(f0_dev[i]), -6.0), 6.0) * 0.45 - self.chin)
            act[i], nod[i], chin[i] = self.act, x, self.chin
        self.nod[:] = (x, v)
        t = np.asarray(frames, np.float64) / self.fps
        breath = np.sin(2 * np.pi * self.breath_hz * t + self.breath_phase)
        talk = 1.0 + 1.2 * act
        yaw = 1.6 * fast[:, 0] * talk + 2.8 * slow[:, 0] * (0.6 + 0.8 * act)
        pitch = 1.0 * fast[:, 1] * talk + 1.5 * slow[:, 1] + nod + chin + 0.35 * breath
        roll = 0.7 * fast[:, 2] * talk + 1.6 * slow[:, 2]
        angles = np.stack([yaw, pitch, roll], axis=1) * self.intensity
        angles[:, 1] += self.pitch_offset
        shift = (sway * np.array([0.003, 0.0015, 0.003]) * self.intensity
                 + np.array([0.0, 0.0012, 0.0004])[None, :] * breath[:, None])
        limits = ANGLE_LIMITS
        angles = limits * np.tanh(angles / limits)  # soft limits keep it smooth
        return angles, shift


def pose_vectors(angles_deg: np.ndarray, shift_m: np.ndarray, log_scale: float = 0.0) -> np.ndarray:
    """``(F, 3)`` (yaw, pitch, roll) degrees + ``(F, 3)`` sway -> z_pose ``(F, 7)``.

    The rotation turns about :data:`NECK_PIVOT`, so its translation part is ``(I - R) p``.
    """
    a = np.radians(np.asarray(angles_deg, np.float64))
    # chin up is a negative rotation about +x (the face direction +z goes up)
    rot = Rotation.from_euler("YXZ", np.stack([a[:, 0], -a[:, 1], a[:, 2]], axis=1))
    rotvec = rot.as_rotvec()
    t = NECK_PIVOT[None, :] - rot.apply(NECK_PIVOT) + shift_m
    z = np.concatenate([rotvec, t, np.full((len(a), 1), log_scale)], axis=1)
    return z.astype(np.float32)
