"""Synthetic talking-head frames for testing and benchmarking the tracker.

A portrait is warped so that its landmarks follow the built-in head under
given ARKit weights and head poses: the head's landmarks are projected
through the fitted camera for the portrait's own parameters (source) and
for each frame's (destination), and a dense map interpolated between them
(piecewise-linear over the landmarks plus the image border) drives
``cv2.remap``.  This is not a portrait animator (no inner mouth, no
occlusion); it only moves real image content the way the parameters say.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from scipy.interpolate import LinearNDInterpolator


def warp_frames(image: np.ndarray, fit, head, z_dyn: np.ndarray, z_pose: np.ndarray) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 of ``image`` following ``z_dyn (T, 52)`` and ``z_pose (T, 7)``.

    ``fit`` is the :class:`~vasa3d.head.FittedPortrait` of ``image``; the
    portrait's own expression is added to ``z_dyn``.
    """
    from vasa3d.head.fit import params_from_latent
    from vasa3d.head.threads import single_thread

    with single_thread():
        return _warp_frames(image, fit, head, z_dyn, z_pose)


def _warp_frames(image: np.ndarray, fit, head, z_dyn: np.ndarray, z_pose: np.ndarray) -> np.ndarray:
    from vasa3d.head.fit import params_from_latent

    H, W = image.shape[:2]
    T = len(z_dyn)
    with torch.no_grad():
        src = fit.camera.project(head.landmarks(fit.params)[0])[0].numpy()
        p = params_from_latent(torch.as_tensor(z_dyn, dtype=torch.float32) + fit.params.expression,
                               torch.as_tensor(z_pose, dtype=torch.float32), fit.params.shape)
        p.expression = p.expression.clamp(0, 1)
        dst = fit.camera.project(head.landmarks(p))[0].numpy()
    border = np.array([[x, y] for x in np.linspace(0, W, 5) for y in np.linspace(0, H, 5)
                       if x in (0, W) or y in (0, H)], dtype=np.float64)
    # the map is smooth: evaluate it on a coarse grid and upsample (16x fewer interpolations)
    step = 4
    hs, ws = -(-H // step), -(-W // step)
    gy, gx = (np.mgrid[0:hs, 0:ws].astype(np.float64) + 0.5) * step
    out = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        pts = np.concatenate([dst[t, :468], border])
        vals = np.concatenate([src[:468], border])
        m = LinearNDInterpolator(pts, vals)(gx, gy)
        m = np.where(np.isnan(m), np.stack([gx, gy], -1), m) - 0.5
        mx = cv2.resize(m[..., 0].astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(m[..., 1].astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        out[t] = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def demo_motion(T: int, fps: float = 25.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A test motion: jaw opening and closing, one blink, a smile, gentle head turns."""
    from vasa3d.arkit import ARKIT_INDEX

    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    z = np.zeros((T, 52), np.float32)
    z[:, ARKIT_INDEX["jawOpen"]] = 0.45 * np.clip(np.sin(2 * np.pi * 1.3 * t + rng.uniform(0, 1)), 0, None) ** 1.5
    blink = np.exp(-((t - t[T // 2]) / 0.09) ** 2)
    z[:, ARKIT_INDEX["eyeBlinkLeft"]] = z[:, ARKIT_INDEX["eyeBlinkRight"]] = 0.9 * blink
    z[:, ARKIT_INDEX["mouthSmileLeft"]] = z[:, ARKIT_INDEX["mouthSmileRight"]] = 0.3 * (1 + np.sin(2 * np.pi * 0.4 * t))
    pose = np.zeros((T, 7), np.float32)
    pose[:, 1] = 0.15 * np.sin(2 * np.pi * 0.5 * t)  # yaw
    pose[:, 0] = 0.06 * np.sin(2 * np.pi * 0.7 * t + 1)  # pitch
    pose[:, 2] = 0.05 * np.sin(2 * np.pi * 0.3 * t)  # roll
    return z, pose
