"""Least-squares solve from landmarks to the 52 ARKit weights (and pose)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import lsq_linear
from torch import Tensor

from vasa3d.head.model import HeadModel
from vasa3d.head.params import HeadParams
from vasa3d.head.threads import single_thread


def _landmark_jacobian(head: HeadModel, params: HeadParams) -> tuple[Tensor, Tensor]:
    """Landmarks ``(478*3,)`` at ``params`` (B = 1) and their Jacobian w.r.t. the expression ``(478*3, E)``."""
    E = head.n_expression
    eps = 1e-3
    p = params.expand(E + 1)
    expr = p.expression.clone()
    expr[1:] += eps * torch.eye(E)
    with torch.no_grad():
        lm = head.landmarks(p.replace(expression=expr)).reshape(E + 1, -1)
    return lm[0], ((lm[1:] - lm[0]) / eps).T


def solve_arkit(landmarks: np.ndarray | Tensor, head: HeadModel, params: HeadParams | None = None,
                iterations: int = 4, ridge: float = 1e-6, exclude: tuple[str, ...] = ("tongueOut",)) -> np.ndarray:
    """ARKit weights that best explain 3D landmarks in the head frame.

    Bounded (0 <= w <= 1) linear least squares on the blendshape Jacobian,
    re-linearised ``iterations`` times for the jaw and gaze shapes, which
    rotate joints.

    Args:
        landmarks: ``(478, 3)`` or ``(T, 478, 3)`` metres, in the head's frame (pose removed).
        head: the head model whose expression space is solved for.
        params: identity and pose to hold fixed (B = 1); neutral when None.
        iterations: Gauss-Newton relinearisations.
        ridge: Tikhonov weight pulling weights to 0 (in metres^2 per unit weight^2).
        exclude: shapes that landmarks cannot see (the tongue) and are held at 0.

    Returns:
        ``(52,)`` or ``(T, 52)`` weights in [0, 1].
    """
    with single_thread():
        return _solve(landmarks, head, params, iterations, ridge, exclude)


def _solve(landmarks, head, params, iterations, ridge, exclude) -> np.ndarray:
    target = torch.as_tensor(np.asarray(landmarks), dtype=torch.float32)
    single = target.ndim == 2
    target = target.reshape(-1, target.shape[-2] * 3)
    base = HeadParams.neutral(1, head) if params is None else params.detach().clone()
    names = head.expression_names
    active = np.array([n not in exclude for n in names])
    out = np.zeros((len(target), head.n_expression), dtype=np.float32)
    w = np.zeros(head.n_expression)
    for t, y in enumerate(target):
        for _ in range(iterations):
            p = base.replace(expression=torch.as_tensor(w, dtype=torch.float32)[None])
            lm, J = _landmark_jacobian(head, p)
            J = J.double().numpy()[:, active]
            r = (y - lm).double().numpy() + J @ w[active]
            A = np.vstack([J, np.sqrt(ridge) * np.eye(J.shape[1])])
            b = np.concatenate([r, np.zeros(J.shape[1])])
            sol = lsq_linear(A, b, bounds=(0.0, 1.0), method="bvls")
            w_new = w.copy()
            w_new[active] = sol.x
            if np.abs(w_new - w).max() < 1e-4:
                w = w_new
                break
            w = w_new
        out[t] = w
    return out[0] if single else out
