"""The built-in head's identity basis: smooth deformations around face anchors.

Each component is a displacement field over the whole head, 1 cm at its
peak (global scales: 10%).  Symmetric components come first, then
asymmetric ones; :data:`SHAPE_PRIOR` gives each a prior standard deviation so
fitting prefers symmetric, broad changes.  Eyeballs move rigidly with the
field at their centres, and joints with the field at their rest positions.
"""

from __future__ import annotations

import numpy as np

FACE_ANCHORS = 14
FACE_SIGMA = 0.022
SKULL_ANCHORS = np.array([[0.0, 0.11, -0.01], [0.0, 0.02, -0.1], [0.075, 0.0, -0.02], [0.055, -0.07, -0.0]])
SKULL_SIGMA = 0.05


def _fps(points: np.ndarray, k: int, start: int) -> list[int]:
    chosen = [start]
    d = np.linalg.norm(points - points[start], axis=1)
    for _ in range(k - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.linalg.norm(points - points[i], axis=1))
    return chosen


def _fields(X: np.ndarray, anchors: np.ndarray, sigma: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Symmetric and asymmetric unit fields ``(N, 3)`` evaluated at points ``X``."""
    sym, asym = [], []
    for a in anchors:
        g = np.exp(-((X - a) ** 2).sum(1) / (2 * sigma**2))
        if abs(a[0]) < 0.004:  # on the midline
            sym += [np.stack([X[:, 0] / sigma * g, 0 * g, 0 * g], 1), np.stack([0 * g, g, 0 * g], 1),
                    np.stack([0 * g, 0 * g, g], 1)]
            asym += [np.stack([g, 0 * g, 0 * g], 1)]
        else:
            gm = np.exp(-((X - a * np.array([-1, 1, 1])) ** 2).sum(1) / (2 * sigma**2))
            sym += [np.stack([g - gm, 0 * g, 0 * g], 1), np.stack([0 * g, g + gm, 0 * g], 1),
                    np.stack([0 * g, 0 * g, g + gm], 1)]
            asym += [np.stack([g + gm, 0 * g, 0 * g], 1), np.stack([0 * g, g - gm, 0 * g], 1),
                     np.stack([0 * g, 0 * g, g - gm], 1)]
    return sym, asym


def angle_from_top(points: np.ndarray) -> np.ndarray:
    """``(N,)`` degrees: each canonical point's angle from straight up, seen from the front around the skull
    centre, either side (0 up, 90 level with the centre, 180 straight down): the hair shell's profile
    coordinate."""
    from vasa3d.head.builtin import SKULL_CENTRE

    d = np.asarray(points, np.float64) - SKULL_CENTRE
    return np.degrees(np.arctan2(np.abs(d[:, 0]), d[:, 1]))


def hair_profile(phi_deg: np.ndarray) -> np.ndarray:
    """``(..., K)`` weights of the hair shell's K components at angles ``phi_deg`` from the top of the head
    (seen from the front, either side): smooth bumps that add up to 1, faded out between
    :data:`~vasa3d.head.builtin.HAIR_FADE_DEG` (the jaw, the skin under it and the neck never move)."""
    from vasa3d.head.builtin import HAIR_ANGLES_DEG, HAIR_BUMP_DEG, HAIR_FADE_DEG

    phi = np.asarray(phi_deg, np.float64)[..., None]
    g = np.exp(-0.5 * ((phi - np.asarray(HAIR_ANGLES_DEG)) / HAIR_BUMP_DEG) ** 2)
    t = np.clip((phi - HAIR_FADE_DEG[0]) / (HAIR_FADE_DEG[1] - HAIR_FADE_DEG[0]), 0.0, 1.0)
    return g / g.sum(-1, keepdims=True) * (1.0 - t * t * (3 - 2 * t))


def hair_fields(X: np.ndarray, ramp: np.ndarray) -> list[np.ndarray]:
    """The hair shell's unit fields ``(N, 3)`` at points ``X``: out from the skull centre, by
    :func:`hair_profile` of each point's angle from the top (seen from the front) times ``ramp (N,)``; toward
    straight behind the centre points blend into the profile's mean (in front of the centre, under the jaw,
    nothing moves)."""
    from vasa3d.head.builtin import SKULL_CENTRE

    d = X - SKULL_CENTRE
    r = np.linalg.norm(d, axis=1)
    u = d / np.maximum(r, 1e-9)[:, None]
    back = np.clip(-u[:, 2], 0.0, 1.0)[:, None]  # 1 straight behind the centre, 0 beside it and in front
    prof = hair_profile(angle_from_top(X))
    k = prof.shape[1]
    weight = ((1 - back) * prof + back / k) * ramp[:, None]
    return [u * weight[:, j:j + 1] for j in range(k)]


def build_shape_basis(a: dict) -> dict[str, np.ndarray]:
    V = a["v_template"]
    # eyeball vertices sample the field at their eyeball's centre
    X = V.copy()
    for name, j in (("eyeball_right", 3), ("eyeball_left", 4)):
        X[a[name]] = a["joints"][j]
    J = a["joints"]
    face = V[:468]
    half = np.where(face[:, 0] >= -1e-6)[0]
    anchors = face[half[_fps(face[half], FACE_ANCHORS, int(np.argmax(face[half, 2])))]]
    fields_v, fields_j, prior = [], [], []
    for anchors_, sigma in ((anchors, FACE_SIGMA), (SKULL_ANCHORS, SKULL_SIGMA)):
        sv, av = _fields(X, anchors_, sigma)
        sj, aj = _fields(J, anchors_, sigma)
        fields_v += sv + av
        fields_j += sj + aj
        prior += [1.0] * len(sv) + [0.3] * len(av)
    for axis in range(3):  # global width, height, depth (10 % per unit)
        fv = np.zeros_like(X)
        fv[:, axis] = X[:, axis] / 0.01 * 0.1
        fj = np.zeros_like(J)
        fj[:, axis] = J[:, axis] / 0.01 * 0.1
        fields_v.append(fv)
        fields_j.append(fj)
        prior.append(1.0)
    if "hair_ramp" in a:  # built-in head from version 2 on: the hair shell, last (version 1's indices stay)
        for fv in hair_fields(X, a["hair_ramp"]):
            fields_v.append(fv)
            fields_j.append(np.zeros_like(J))
            prior.append(1.0)
    shapedirs = np.stack(fields_v, -1) * 0.01  # (V, 3, S) metres per unit
    joint_shapedirs = np.stack(fields_j, -1) * 0.01
    joint_shapedirs[0] = 0.0  # the root stays at the head centre
    return {"shapedirs": shapedirs, "joint_shapedirs": joint_shapedirs, "shape_prior": np.array(prior)}
