"""The head an avatar is built on: the built-in head, or a plug-in head (FLAME) beside it.

Training frames are always made with the built-in head (the animator poses it with the
ARKit latent), so its portrait fit sets the cameras and the world frame.  A plug-in head
is fitted into that same camera, and reaches the ARKit latent through a fitted linear map
(:mod:`vasa3d.head.arkit_map`), on which the avatar's ``M^e`` learns a residual.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vasa3d.head.fit import FittedPortrait, fit_in_camera, params_from_latent
from vasa3d.head.model import HeadModel


@dataclass
class AvatarHead:
    """What :meth:`vasa3d.gaussians.GaussianAvatar.from_portrait` takes for a head.

    Attributes:
        head: the head the Gaussians are bound to.
        fit: ``head`` fitted to the portrait, in the built-in fit's camera.
        latent_map: ``(52, E + 9)`` ARKit -> (expression, jaw, eyes), or None for an ARKit head.
        map_residual: the map's relative landmark residual over all ARKit shapes (None: no map).
    """

    head: HeadModel
    fit: FittedPortrait
    latent_map: Tensor | None = None
    map_residual: float | None = None


def avatar_head(landmarks: np.ndarray, builtin: HeadModel, builtin_fit: FittedPortrait, config: dict | None,
                model_file: str | os.PathLike | None = None) -> AvatarHead:
    """The avatar's head for a portrait already fitted with the built-in head.

    Args:
        landmarks: ``(478, >=2)`` the portrait's landmarks (pixels of ``builtin_fit.camera``).
        builtin, builtin_fit: the built-in head and its fit (the dataset's camera and ARKit expression).
        config, model_file: a head config and the user's model file (:func:`vasa3d.head.parse_head_spec`);
            ``None``: the built-in head itself.
    """
    if config is None:
        return AvatarHead(builtin, builtin_fit)
    from vasa3d.head.arkit_map import fit_arkit_map
    from vasa3d.head.build import build_head

    head = build_head(config, model_file)
    amap = fit_arkit_map(head, builtin)
    with torch.no_grad():
        base = params_from_latent(builtin_fit.params.expression, torch.zeros(1, 6), torch.zeros(1, head.n_shape),
                                  amap.matrix)
    fit = fit_in_camera(landmarks, head, builtin_fit, base)
    return AvatarHead(head, fit, amap.matrix, amap.total_residual)
