"""The hair shell: the built-in head's scalp grown out to the hair's outline in the portrait.

Hair outside the head mesh can only be a flat picture behind the head: it cannot
turn with it, and a head turned 20 degrees or more showed streaks and smears at
the temples where the turning scalp met the flat hair (issue 14).  The built-in
head (from version 2 on) has shape components that move the scalp out from the skull
centre by a smooth profile over the angle from the top of the head
(:func:`vasa3d.head.shape_basis.hair_profile`); :func:`fit_hair` sets them so
that the mesh's outline in the portrait meets the outline of the person mask
from the top of the head down to just below the ears.  The hair the portrait
shows then lies on the mesh, is textured from the photo and turns in 3D, and the
Gaussians bound to those triangles carry it.  The profile is symmetric, so the
side the photo does not show grows like the side it does, and the back of the
head takes the profile's mean.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from vasa3d.head.model import HeadModel

__all__ = ["HairConfig", "fit_hair", "hair_faces", "outline_radii"]


@dataclass
class HairConfig:
    """How far the scalp may move, and how the outlines are compared."""

    angles_deg: tuple[float, float, float] = (0.0, 104.0, 4.0)
    """Angles from the top of the head (seen from the front, each side) where the outlines are compared:
    start, stop, step.  Below the last the outline is jaw, neck or shoulders, not hair."""
    max_out_m: float = 0.07
    """The scalp moves out by at most this (7 cm: a large hairdo)."""
    max_in_m: float = 0.01
    """...and in by at most this (a small head under short hair)."""
    iterations: int = 4
    """Outline comparisons (each re-renders the mesh's silhouette)."""
    ridge: float = 0.05
    """Ridge on the components (in cm^2 against the outline gaps' cm^2): keeps unseen bumps near 0."""


def outline_radii(mask: np.ndarray, centre: tuple[float, float], angles_deg: np.ndarray) -> np.ndarray:
    """``(2, A)`` pixels from ``centre`` to the outer edge of ``mask (H, W) bool`` along each angle from
    straight up, on the image's left side (row 0) and right side (row 1).  The edge is where the mask ends
    for good along the ray (gaps of up to 3 pixels are bridged); a ray starting outside the mask gives 0."""
    H, W = mask.shape
    out = np.zeros((2, len(angles_deg)))
    steps = np.arange(0.0, math.hypot(H, W), 1.0)
    for side, sign in enumerate((-1.0, 1.0)):
        for a, deg in enumerate(angles_deg):
            t = math.radians(float(deg))
            x = centre[0] + sign * math.sin(t) * steps
            y = centre[1] - math.cos(t) * steps
            ok = (x >= 0) & (x < W) & (y >= 0) & (y < H)
            xi, yi = x[ok].astype(np.int64), y[ok].astype(np.int64)
            on = mask[yi, xi]
            if not on.size or not on[0]:
                continue
            off = np.flatnonzero(~on)
            end = len(on)  # inside to the image's border
            for k in off:
                if not on[k:k + 4].any():
                    end = k
                    break
            out[side, a] = steps[ok][end - 1] if end > 0 else 0.0
    return out


def fit_hair(fit, head: HeadModel, mask: np.ndarray, config: HairConfig | None = None):
    """``fit`` with the hair shell's shape components set to the portrait's hair outline.

    Args:
        fit: a :class:`~vasa3d.head.fit.FittedPortrait` of ``head`` (its camera sees the portrait crop).
        head: the head; one without hair components (FLAME, built-in version 1) returns ``fit`` unchanged.
        mask: ``(H, W)`` float in [0, 1], the person in the portrait crop (the camera's image).

    Returns:
        a :class:`~vasa3d.head.fit.FittedPortrait` whose ``params.shape`` has the hair components set
        (the face, and so the landmarks and their error, do not move).
    """
    from vasa3d.head.builtin import SKULL_CENTRE
    from vasa3d.head.shape_basis import hair_profile
    from vasa3d.train.regions import mesh_silhouette

    cfg = config or HairConfig()
    K = int(getattr(head, "n_hair", 0))
    if K == 0:
        return fit
    person = np.asarray(mask, np.float32) > 0.5
    cam = fit.camera
    angles = np.arange(*cfg.angles_deg)
    with torch.no_grad():
        uv, depth = cam.project(torch.as_tensor(SKULL_CENTRE, dtype=torch.float32).reshape(1, 3))
        centre = (float(uv[0, 0]), float(uv[0, 1]))
        px_per_m = float(cam.K.reshape(3, 3)[0, 0]) / float(depth.reshape(-1)[0])
        target = outline_radii(person, centre, angles)
        seen = (target > 0).all(0)
        if not seen.any():  # the mask does not hold the head's centre: nothing to fit to
            return fit
        # the components' profile at each compared angle, in metres per unit
        A = hair_profile(angles)[seen] * 0.01
        shape = fit.params.shape.clone()
        coeffs = np.zeros(K)
        lo, hi = -cfg.max_in_m / 0.01, cfg.max_out_m / 0.01
        for _ in range(cfg.iterations):
            shape[0, -K:] = torch.as_tensor(coeffs, dtype=shape.dtype)
            verts = head(fit.params.replace(shape=shape))[0]
            sil = mesh_silhouette(verts, head.faces, cam)
            have = outline_radii(sil, centre, angles)
            gap = ((target - have)[:, seen]).mean(0) / px_per_m  # metres the scalp should move out
            lhs = A.T @ A + cfg.ridge * 1e-4 * np.eye(K)
            coeffs = np.clip(coeffs + np.linalg.solve(lhs, A.T @ gap), lo, hi)
        shape[0, -K:] = torch.as_tensor(coeffs, dtype=shape.dtype)
    return dataclasses.replace(fit, params=fit.params.replace(shape=shape))


def hair_faces(head: HeadModel, verts) -> np.ndarray:
    """``(F,)`` bool: the hair shell's triangles of ``head`` posed at rest as ``verts (V, 3)``: those touching
    the scalp or ears (the ring along the hairline alternates face and scalp triangles), without those the
    shell does not move (past :data:`~vasa3d.head.builtin.HAIR_FADE_DEG`: the jaw's underside)."""
    from vasa3d.head.builtin import HAIR_FADE_DEG
    from vasa3d.head.shape_basis import angle_from_top

    faces = head.faces.cpu().numpy()
    hair_ids = [head.regions.index(n) for n in ("scalp", "ears") if n in head.regions]
    centres = torch.as_tensor(verts).detach().cpu().numpy()[faces].mean(1)
    return np.isin(head.vertex_regions.cpu().numpy(), hair_ids)[faces].any(1) & (
        angle_from_top(centres) <= HAIR_FADE_DEG[1])
