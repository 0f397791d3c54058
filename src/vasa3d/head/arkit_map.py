"""The fitted linear map from the 52 ARKit weights to another head's expression parameters (FLAME's).

The motion latent's ``z_dyn`` is ARKit-52; FLAME's expression is ``(psi, jaw, eyes)``: PCA
coefficients plus jaw and eyeball rotations (the paper's ``epsilon^exp``).  The map
``A (52, E + 9)`` gives ``[psi, jaw, eye_right, eye_left] = z_dyn @ A``; an avatar's ``M^e``
learns a residual on top of it (:class:`vasa3d.gaussians.GaussianAvatar`).

How ``A`` is fitted, one ARKit shape ``k`` at a time, on the two neutral heads:

1. the rotations are carried over as they are: the built-in head drives its jaw and
   eyeballs from the ARKit weights (``expr_pose``: jawOpen turns the jaw, eyeLook* the
   eyes), and FLAME has the same joints, so ``jaw_k`` and ``eyes_k`` are those angles;
2. ``D_k``: what shape ``k`` at weight 1 does to the built-in head's 478 mediapipe
   landmarks (the rotations included), scaled by the ratio of the heads' sizes;
3. FLAME's landmarks are linear in ``psi`` for a fixed pose, ``L(psi) = B_k psi + b_k``
   at pose ``(jaw_k, eyes_k)``; ``psi_k`` is the ridge least-squares solution of
   ``B_k psi = D_k - (b_k - L_0)``, weighted per landmark as the portrait fit weighs them
   (lips and eyes double, the face outline half).

The landmarks correspond through each head's ``landmark_vertices`` (FLAME's from the
adapter).  The relative residual ``||B_k psi_k + b_k - L_0 - D_k|| / ||D_k||`` says how much
of shape ``k`` FLAME's expression space cannot express; :attr:`ArkitMap.residual` keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vasa3d.head.model import HeadModel
from vasa3d.head.params import HeadParams

JAW, EYE_RIGHT, EYE_LEFT = 2, 3, 4  # joints of HeadModel.joint_names


@dataclass
class ArkitMap:
    """A fitted ARKit -> expression-parameter map.

    Attributes:
        matrix: ``(52, E + 9)`` float32: ``z_dyn @ matrix`` = ``[psi (E), jaw (3), eye_right (3), eye_left (3)]``.
        residual: ``(52,)`` relative landmark residual of each ARKit shape (0: reproduced exactly;
            shapes that move no landmark get 0).
        total_residual: the same over all shapes together (residual energy over displacement energy, square-rooted).
    """

    matrix: Tensor
    residual: np.ndarray
    total_residual: float


def split_expression(m: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(B, E + 9)`` mapped parameters -> expression ``(B, E)``, jaw ``(B, 3)``, eyes ``(B, 2, 3)``."""
    n = m.shape[-1] - 9
    return m[..., :n], m[..., n:n + 3], m[..., n + 3:].reshape(*m.shape[:-1], 2, 3)


def fit_arkit_map(target: HeadModel, source: HeadModel, ridge: float = 1e-3) -> ArkitMap:
    """Fit the map from ``source``'s ARKit weights to ``target``'s expression parameters.

    Args:
        target: the head to drive (the FLAME adapter).
        source: a head whose expression is ARKit-52 (the built-in head).
        ridge: Tikhonov weight, relative to the mean diagonal of the normal equations.

    Returns:
        :class:`ArkitMap`.
    """
    from vasa3d.head.fit import FitConfig, landmark_weights

    n_k, n_e = source.n_expression, target.n_expression
    w = torch.as_tensor(landmark_weights(FitConfig()), dtype=torch.float64)
    w = (w / w.mean()).repeat_interleave(3)
    with torch.no_grad():
        src0 = source.landmarks(HeadParams.neutral(1, source))[0].double()
        tgt0 = target.landmarks(HeadParams.neutral(1, target))[0].double()
        size = float((tgt0[:468] - tgt0[:468].mean(0)).norm(dim=-1).mean()
                     / (src0[:468] - src0[:468].mean(0)).norm(dim=-1).mean())
        shapes = HeadParams.neutral(n_k, source)
        shapes.expression.copy_(torch.eye(n_k))
        D = (source.landmarks(shapes).double() - src0) * size  # (K, 478, 3)
        jaw = source.expr_pose[:, JAW].double()
        eyes = source.expr_pose[:, [EYE_RIGHT, EYE_LEFT]].double()

        matrix = torch.zeros(n_k, n_e + 9, dtype=torch.float64)
        matrix[:, n_e:n_e + 3] = jaw
        matrix[:, n_e + 3:] = eyes.reshape(n_k, 6)
        residual = np.zeros(n_k)
        err2 = tot2 = 0.0
        poses: dict[tuple, tuple[Tensor, Tensor]] = {}
        for k in range(n_k):
            key = tuple(matrix[k, n_e:].tolist())
            if key not in poses:  # FLAME's landmarks at this pose: L(psi) = B psi + b
                p = HeadParams.neutral(n_e + 1, target)
                p.jaw.copy_(jaw[k].float().expand(n_e + 1, 3))
                p.eyes.copy_(eyes[k].float().expand(n_e + 1, 2, 3))
                p.expression[1:] = torch.eye(n_e)
                lm = target.landmarks(p).double()
                poses[key] = ((lm[1:] - lm[:1]).reshape(n_e, -1).T, (lm[0] - tgt0).reshape(-1))
            B, b = poses[key]
            rhs = D[k].reshape(-1) - b
            Bw = B * w[:, None]
            normal = B.T @ Bw
            lam = ridge * float(normal.diagonal().mean())
            psi = torch.linalg.solve(normal + lam * torch.eye(n_e, dtype=normal.dtype), Bw.T @ rhs)
            matrix[k, :n_e] = psi
            err = float(((B @ psi - rhs) ** 2 * w).sum())
            energy = float((D[k].reshape(-1) ** 2 * w).sum())
            residual[k] = np.sqrt(err / energy) if energy > 1e-14 else 0.0
            err2, tot2 = err2 + err, tot2 + energy
    return ArkitMap(matrix=matrix.float(), residual=residual, total_residual=float(np.sqrt(err2 / max(tot2, 1e-14))))
