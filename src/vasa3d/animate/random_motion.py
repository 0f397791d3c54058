"""Randomly sampled talking-head motion over a wide range (``vasa3d synth --motion random``).

The paper drives its generator with latents from real video clips; without
those, training frames still need to cover many poses and expressions.  This
sampler draws smooth trajectories: head pose from keyframes spread uniformly
over +-``yaw_deg`` / +-``pitch_deg`` / +-``roll_deg``, expression channels from
keyframes in which each channel is sometimes off and sometimes anywhere in
[0, 1], blinks as short events every few seconds, and gaze that drifts and
saccades.  Everything is a pure function of ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES, mirror_name
from vasa3d.motion.latent import MotionLatent

__all__ = ["RandomMotionConfig", "random_motion"]


@dataclass
class RandomMotionConfig:
    """Ranges of :func:`random_motion`."""

    yaw_deg: float = 40.0
    """head yaw is drawn from [-yaw_deg, yaw_deg]"""
    pitch_deg: float = 20.0
    """head pitch is drawn from [-pitch_deg, pitch_deg]"""
    roll_deg: float = 10.0
    """head roll is drawn from [-roll_deg, roll_deg]"""
    translation_m: float = 0.01
    """head translation per axis is drawn from [-translation_m, translation_m]"""
    log_distance: float = 0.1
    """the head's log-scale (-log of its distance) is drawn from [-log_distance, log_distance]: 0.1 is
    0.9-1.1 times as far (the animator zooms the frame)"""
    pose_period_s: float = 1.2
    """mean time between pose keyframes"""
    max_turn_deg_s: float = 120.0
    """fastest head rotation, degrees per second"""
    expression_period_s: float = 0.5
    """mean time between expression keyframes"""
    expression_active: float = 0.25
    """chance that a non-eye channel is active at a keyframe"""
    jaw_active: float = 0.6
    """chance that the jaw is open at a keyframe"""
    blink_interval_s: float = 3.0
    """mean time between blinks"""
    symmetric: float = 0.6
    """chance that a left/right pair moves together"""


_EYE_LOOK = [n for n in ARKIT_NAMES if n.startswith("eyeLook")]
_BLINK = ("eyeBlinkLeft", "eyeBlinkRight")


def _keyframe_curve(rng: np.random.Generator, n: int, period: float, draw, max_step=None) -> np.ndarray:
    """A smooth curve ``(n, D)`` through random keyframes (cosine interpolation between them).

    ``max_step`` ``(D,)`` bounds the change per frame: keyframes far apart in value get
    proportionally more frames between them.
    """
    times, keys = [0.0], [draw()]
    while times[-1] < n - 1:
        key = draw()
        gap = max(1.0, rng.exponential(period) + 0.3 * period)
        if max_step is not None:  # cosine easing peaks at pi/2 times the mean speed
            gap = max(gap, 0.5 * math.pi * float(np.max(np.abs(key - keys[-1]) / max_step)))
        times.append(times[-1] + gap)
        keys.append(key)
    keys = np.stack(keys)
    t = np.arange(n, dtype=np.float64)
    seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    t0, t1 = np.asarray(times)[seg], np.asarray(times)[seg + 1]
    a = np.clip((t - t0) / (t1 - t0), 0, 1)
    a = (0.5 - 0.5 * np.cos(math.pi * a))[:, None]
    return keys[seg] * (1 - a) + keys[seg + 1] * a


def random_motion(n_frames: int, seed: int = 0, fps: float = 25.0,
                  config: RandomMotionConfig | None = None) -> MotionLatent:
    """``n_frames`` of random motion at ``fps`` (schema ``arkit52+pose``), a pure function of ``seed``."""
    cfg = config or RandomMotionConfig()
    rng = np.random.default_rng(seed)
    n = int(n_frames)
    lim = np.radians([cfg.pitch_deg, cfg.yaw_deg, cfg.roll_deg])

    def pose_key():
        rot = rng.uniform(-1, 1, 3) * lim
        return np.concatenate([rot, rng.uniform(-1, 1, 3) * cfg.translation_m, [0.0]])

    max_step = np.concatenate([np.full(3, math.radians(cfg.max_turn_deg_s) / fps), np.full(4, np.inf)])
    z_pose = _keyframe_curve(rng, n, cfg.pose_period_s * fps, pose_key, max_step)
    # distance from its own stream, so the other channels are what they were before it existed
    rng_d = np.random.default_rng([int(seed), 4021])
    z_pose[:, 6] = _keyframe_curve(rng_d, n, 2 * cfg.pose_period_s * fps,
                                   lambda: rng_d.uniform(-1, 1, 1) * cfg.log_distance)[:, 0]

    names = list(ARKIT_NAMES)
    free = [k for k, nm in enumerate(names) if nm not in _BLINK and nm not in _EYE_LOOK]

    def expr_key():
        w = np.zeros(len(names))
        for k in free:
            p = cfg.jaw_active if names[k] == "jawOpen" else cfg.expression_active
            if rng.uniform() < p:
                w[k] = rng.uniform(0.1, 1.0) ** 0.7
        for k in free:  # pull pairs together
            m = ARKIT_INDEX[mirror_name(names[k])]
            if m > k and rng.uniform() < cfg.symmetric:
                w[k] = w[m] = max(w[k], w[m])
        # keep opposing pairs from both firing (left/right jaw, left/right mouth)
        for a, b in (("jawLeft", "jawRight"), ("mouthLeft", "mouthRight")):
            ia, ib = ARKIT_INDEX[a], ARKIT_INDEX[b]
            if w[ia] > 0 and w[ib] > 0:
                w[ib if rng.uniform() < 0.5 else ia] = 0.0
        return w

    z_dyn = _keyframe_curve(rng, n, cfg.expression_period_s * fps, expr_key)

    def gaze_key():
        h, v = rng.normal(0, 0.45), rng.normal(0, 0.35)
        g = np.zeros(4)  # left-right, up-down as signed values
        g[0], g[1] = np.clip(h, -1, 1), np.clip(v, -1, 1)
        return g

    gaze = _keyframe_curve(rng, n, 0.8 * fps, gaze_key)
    h, v = gaze[:, 0], gaze[:, 1]
    # subject looks toward their left: the left eye looks out, the right eye looks in
    z_dyn[:, ARKIT_INDEX["eyeLookOutLeft"]] = np.clip(h, 0, 1)
    z_dyn[:, ARKIT_INDEX["eyeLookInRight"]] = np.clip(h, 0, 1)
    z_dyn[:, ARKIT_INDEX["eyeLookInLeft"]] = np.clip(-h, 0, 1)
    z_dyn[:, ARKIT_INDEX["eyeLookOutRight"]] = np.clip(-h, 0, 1)
    for side in ("Left", "Right"):
        z_dyn[:, ARKIT_INDEX["eyeLookUp" + side]] = np.clip(v, 0, 1)
        z_dyn[:, ARKIT_INDEX["eyeLookDown" + side]] = np.clip(-v, 0, 1)

    # blinks: ~0.25 s events (close fast, open slower), both eyes
    blink = np.zeros(n)
    t = rng.exponential(cfg.blink_interval_s * fps * 0.5)
    shape = np.concatenate([np.linspace(0, 1, 3)[1:], np.linspace(1, 0, 5)[1:]])
    while t < n:
        i = int(t)
        seg = shape[: max(0, min(len(shape), n - i))]
        blink[i:i + len(seg)] = np.maximum(blink[i:i + len(seg)], seg)
        t += max(0.3 * fps, rng.exponential(cfg.blink_interval_s * fps))
    for name in _BLINK:
        z_dyn[:, ARKIT_INDEX[name]] = np.maximum(z_dyn[:, ARKIT_INDEX[name]], blink)
    return MotionLatent(np.clip(z_dyn, 0, 1).astype(np.float32), z_pose.astype(np.float32), fps)
