"""The part of a frame the avatar models: the head, not the shoulders.

A head model (FLAME or the built-in one) ends at the neck, while portrait
animators paint the whole upper body.  Training and evaluation therefore
compare renders with the frame inside the *head region*: the frame's
foreground mask limited to the posed head mesh's silhouette grown by a
margin (for hair that stands off the scalp); everything else counts as
background.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt
from torch import Tensor

from vasa3d.render.camera import Camera


def mesh_silhouette(vertices: Tensor, faces: Tensor, camera: Camera) -> np.ndarray:
    """``(H, W)`` bool: pixels covered by the mesh ``vertices (V, 3)``, ``faces (F, 3)`` seen by ``camera``."""
    from vasa3d.animate.raster import rasterize_mesh

    uv, depth = camera.project(vertices.detach().cpu().float())
    raster = rasterize_mesh(uv.numpy().astype(np.float32), depth.numpy().astype(np.float32),
                            faces.cpu().numpy().astype(np.int64), camera.width, camera.height)
    return raster.tri_id >= 0


def head_region(avatar, z_dyn: Tensor, z_pose: Tensor, camera: Camera, margin: float) -> Tensor:
    """``(H, W, 1)`` float: the posed head mesh's silhouette grown by ``margin`` x image width.

    Args:
        avatar: a :class:`~vasa3d.gaussians.GaussianAvatar` (its head and base mapping pose the mesh).
        z_dyn: ``(Dd,)``; z_pose: ``(Dp,)``: the frame's latent.
        camera: the frame's camera.
        margin: growth as a fraction of the image width (0: the bare silhouette).
    """
    with torch.no_grad():
        params = avatar.head_params(z_dyn.reshape(1, -1).to(avatar.means), z_pose.reshape(1, -1).to(avatar.means))
        verts = avatar.head(params)[0]
    sil = mesh_silhouette(verts, avatar.head.faces, camera.to("cpu"))
    grow = margin * camera.width
    if grow > 0:
        sil = distance_transform_edt(~sil) <= grow
    return torch.from_numpy(sil.astype(np.float32))[..., None]
