"""A FLAME-format model file for tests: FLAME 2023's key structure and sizes, random bases.

No FLAME file ships (its licence requires registration), so the tests make one
with the arrays FLAME's ``generic_model.pkl`` holds, of FLAME's sizes:

* ``v_template (5023, 3)`` and ``f (F, 3)``: the built-in head's mesh, its
  triangles split at their centroids until there are 5023 vertices, then
  warped by a smooth random field (about 4 mm), scaled by 1.04 and moved so
  that its origin is not the head centre (as FLAME's is not);
* ``shapedirs (5023, 3, 400)``: 300 identity then 100 expression components.
  Identity: smooth random fields (sums of Gaussian bumps around random
  centres) with a PCA-like fall-off of their size.  Expression: random
  mixtures of the built-in head's 52 ARKit displacement fields (what real
  expressions do to a face) plus a smooth random field on the face, also
  falling off;
* ``posedirs (5023, 3, 36)``: small random pose correctives;
* ``J_regressor (5, 5023)`` (scipy sparse, as in FLAME) and ``weights (5023, 5)``
  with FLAME's joint order (global, neck, jaw, left eye, right eye) and
  ``kintree_table``;
* FLAME's bookkeeping entries ``J``, ``bs_style``, ``bs_type``.

Arrays are wrapped like FLAME 2020's (chumpy for ``v_template`` and
``shapedirs``) when a fake ``chumpy.ch.Ch`` class is given.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

N_VERTICES = 5023
N_SHAPE, N_EXPRESSION = 300, 100
FLAME_ORDER = (0, 1, 2, 4, 3)  # FLAME's joints: global, neck, jaw, left eye, right eye (ours: ..., right, left)


def _split_to(V: np.ndarray, F: np.ndarray, attrs: list[np.ndarray], n: int):
    """Split the largest triangles at their centroids until there are ``n`` vertices; attributes averaged."""
    V, F, attrs = V.copy(), F.copy(), [a.copy() for a in attrs]
    while len(V) < n:
        area = 0.5 * np.linalg.norm(np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]]), axis=1)
        pick = np.argsort(-area)[: min(n - len(V), len(F))]
        new = np.arange(len(V), len(V) + len(pick))
        V = np.concatenate([V, V[F[pick]].mean(1)])
        attrs = [np.concatenate([a, a[F[pick]].mean(1)]) for a in attrs]
        a, b, c = F[pick].T
        keep = np.ones(len(F), bool)
        keep[pick] = False
        F = np.concatenate([F[keep], np.stack([a, b, new], 1), np.stack([b, c, new], 1), np.stack([c, a, new], 1)])
    return V, F, attrs


def _bumps(rng, V: np.ndarray, n: int, sigma: float, amplitude: np.ndarray, mask: np.ndarray | None = None):
    """``(len(V), 3, n)`` smooth random fields: a few Gaussian bumps each, ``amplitude[k]`` metres at most."""
    out = np.zeros((len(V), 3, n))
    pool = np.flatnonzero(mask) if mask is not None else np.arange(len(V))
    for k in range(n):
        for _ in range(4):
            c = V[rng.choice(pool)]
            w = np.exp(-((V - c) ** 2).sum(1) / (2 * sigma**2))
            out[:, :, k] += w[:, None] * rng.standard_normal(3)
        out[:, :, k] *= amplitude[k] / max(np.abs(out[:, :, k]).max(), 1e-12)
    return out


def flame_arrays(seed: int = 0, expression: str = "random", warp_m: float = 0.004) -> dict:
    """The arrays of a FLAME-format model (numpy; ``J_regressor`` scipy sparse).

    ``expression="arkit"``: the first 52 expression components are the built-in head's ARKit fields
    themselves (scaled with the head), the others zero: a model that can express every ARKit shape.
    ``warp_m``: size of the smooth random warp of the template (0: the built-in head's shape, scaled).
    """
    from vasa3d.head.builtin import REGIONS, build_builtin_arrays

    a = build_builtin_arrays()
    rng = np.random.default_rng(seed)
    V0, F = a["v_template"], a["faces"]
    nb = len(V0)
    ids = np.eye(nb)  # which built-in vertices each new vertex is made of (to carry bases and weights over)
    V, F, (W, mix) = _split_to(V0, F, [a["lbs_weights"], ids], N_VERTICES)
    face = np.isin(mix.argmax(1), np.flatnonzero(np.isin(a["vertex_regions"],
                                                           [REGIONS.index(r) for r in ("face", "lips", "eyes")])))
    # a head of its own: warped, a little bigger, and its origin elsewhere than the head centre
    warp = _bumps(rng, V, 1, 0.05, np.array([warp_m]))[:, :, 0]
    warp[mix[:, np.concatenate([a["eyeball_right"], a["eyeball_left"]])].sum(1) > 0.5] = 0  # eyeballs stay spheres
    V = (V + warp) * 1.04 + np.array([0.0, -0.02, 0.03])

    identity = _bumps(rng, V, N_SHAPE, 0.045, 0.012 / np.sqrt(1 + np.arange(N_SHAPE)))
    arkit = np.einsum("uv,vce->uce", mix, a["exprdirs"])  # (V, 3, 52) the built-in's ARKit shapes
    coeff = rng.standard_normal((52, N_EXPRESSION)) / np.sqrt(52)
    falloff = 1.0 / np.sqrt(1 + 0.1 * np.arange(N_EXPRESSION))
    expression_kind, expression = expression, np.einsum("vce,ek->vck", arkit, coeff) * falloff
    expression += _bumps(rng, V, N_EXPRESSION, 0.02, 0.0003 * falloff, mask=face)
    if expression_kind == "arkit":
        expression = np.zeros_like(expression)
        expression[:, :, :52] = arkit * 1.04

    rows = []
    for j in FLAME_ORDER:
        if j >= 3:  # eyes: the eyeball's vertex mean is its centre
            near = np.flatnonzero(mix[:, a["eyeball_right" if j == 3 else "eyeball_left"]].sum(1) > 0.5)
        else:
            near = np.argsort(np.linalg.norm(V0 - a["joints"][j], axis=1))[:4]  # the originals keep their index
        r = np.zeros(len(V))
        r[near] = 1.0 / len(near)
        rows.append(r)
    J_reg = sp.csc_matrix(np.stack(rows))
    return {
        "v_template": V, "f": F.astype(np.uint32),
        "shapedirs": np.concatenate([identity, expression], 2),
        "posedirs": 2e-4 * rng.standard_normal((len(V), 3, 36)),
        "J_regressor": J_reg, "weights": W[:, list(FLAME_ORDER)],
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "J": J_reg @ V, "bs_style": "lbs", "bs_type": "lrotmin",
    }


def write_flame_file(path: str | Path, seed: int = 0, chumpy_class=None, protocol: int = 2) -> Path:
    """Pickle :func:`flame_arrays` to ``path`` (``chumpy_class``: wrap like FLAME 2020's file)."""
    d = flame_arrays(seed)
    if chumpy_class is not None:
        d["v_template"] = chumpy_class(d["v_template"])
        d["shapedirs"] = chumpy_class(d["shapedirs"])
    path = Path(path)
    path.write_bytes(pickle.dumps(d, protocol=protocol))
    return path
