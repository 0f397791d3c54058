"""The part of a frame the avatar models: the head, not the shoulders.

A head model (FLAME or the built-in one) ends at the neck, while portrait
animators paint the whole upper body.  Training and evaluation therefore
compare renders with the frame inside the *head region*: the frame's
foreground mask limited to the posed head mesh's silhouette grown by a
margin (for hair that stands off the scalp); everything else counts as
background.

Down the neck the region fades out (:data:`NECK_FADE_M` below the chin, in
the head's own frame): cut off sharp at the bottom of the mesh's neck and its
margin, the trained avatar ended in a hard-edged box of neck and collar.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt
from torch import Tensor

from vasa3d.head.landmark_sets import CHIN
from vasa3d.render.camera import Camera

#: the head region is whole down to the first distance below the chin (metres, head frame) and gone at the second
NECK_FADE_M = (0.04, 0.09)


def mesh_raster(vertices: Tensor, faces: Tensor, camera: Camera):
    """The :class:`~vasa3d.animate.raster.MeshRaster` of the mesh ``vertices (V, 3)``, ``faces (F, 3)`` seen by
    ``camera`` (a CPU camera)."""
    from vasa3d.animate.raster import rasterize_mesh

    uv, depth = camera.project(vertices.detach().cpu().float())
    return rasterize_mesh(uv.numpy().astype(np.float32), depth.numpy().astype(np.float32),
                          faces.cpu().numpy().astype(np.int64), camera.width, camera.height)


def mesh_silhouette(vertices: Tensor, faces: Tensor, camera: Camera) -> np.ndarray:
    """``(H, W)`` bool: pixels covered by the mesh ``vertices (V, 3)``, ``faces (F, 3)`` seen by ``camera``."""
    return mesh_raster(vertices, faces, camera).tri_id >= 0


def head_region(avatar, z_dyn: Tensor, z_pose: Tensor, camera: Camera, margin: float,
                neck_fade: tuple[float, float] | None = NECK_FADE_M) -> Tensor:
    """``(H, W, 1)`` float in [0, 1]: the posed head mesh's silhouette grown by ``margin`` x image width,
    fading out down the neck.

    Args:
        avatar: a :class:`~vasa3d.gaussians.GaussianAvatar` (its head and base mapping pose the mesh).
        z_dyn: ``(Dd,)``; z_pose: ``(Dp,)``: the frame's latent.
        camera: the frame's camera.
        margin: growth as a fraction of the image width (0: the bare silhouette).
        neck_fade: the region is 1 down to ``neck_fade[0]`` metres below the chin and 0 from
            ``neck_fade[1]`` on, linearly between (heights in the head's frame, so the fade turns with
            the head); a grown pixel takes the weight of the nearest mesh pixel.  None: the silhouette, whole,
            grown from the neck too (as before issue 14).

    The fade and the head-only margin need a head model that names its neck region (the built-in head and
    FLAME do); on any other the region is the grown silhouette.
    """
    from vasa3d.animate.raster import interpolate

    with torch.no_grad():
        params = avatar.head_params(z_dyn.reshape(1, -1).to(avatar.means), z_pose.reshape(1, -1).to(avatar.means))
        verts = avatar.head(params)[0]
    faces = avatar.head.faces.cpu().numpy().astype(np.int64)
    raster = mesh_raster(verts, avatar.head.faces, camera.to("cpu"))
    sil = raster.tri_id >= 0
    neck = neck_faces(avatar.head)
    on_neck = sil & neck[np.maximum(raster.tri_id, 0)] if neck is not None else np.zeros_like(sil)
    weight = sil.astype(np.float32)
    if neck_fade is not None and on_neck.any():
        height = _canonical_heights(avatar, z_dyn, z_pose)
        chin = height[int(avatar.head.landmark_vertices[CHIN])]
        top, bottom = chin - neck_fade[0], chin - neck_fade[1]
        per_vertex = np.clip((height - bottom) / max(top - bottom, 1e-6), 0.0, 1.0)
        weight[on_neck] = np.clip(interpolate(per_vertex, faces, raster), 0.0, 1.0)[on_neck]
    grow = margin * camera.width
    if grow > 0:
        # the margin grows from the head, not the neck: grown from the neck too it made straight-sided
        # columns of collar and shoulder beside it; a grown pixel takes the nearest mesh pixel's weight
        head = sil & ~on_neck if neck_fade is not None else sil
        near_head = distance_transform_edt(~(head if head.any() else sil)) <= grow
        _, (iy, ix) = distance_transform_edt(~sil, return_indices=True)
        weight = np.where(sil, weight, np.where(near_head, weight[iy, ix], 0.0)).astype(np.float32)
    return torch.from_numpy(weight)[..., None]


def neck_faces(head) -> np.ndarray | None:
    """``(F,)`` bool: the head model's neck triangles, or None for a model without a neck region."""
    names = list(getattr(head, "regions", ()))
    regions = getattr(head, "face_regions", None)
    if "neck" not in names or regions is None:
        return None
    return regions.cpu().numpy() == names.index("neck")


def _canonical_heights(avatar, z_dyn: Tensor, z_pose: Tensor) -> np.ndarray:
    """``(V,)`` each vertex's height (y, metres) in the head's own frame, with the frame's expression (the jaw
    opens) but without its head pose."""
    with torch.no_grad():
        unposed = torch.zeros_like(z_pose.reshape(1, -1)).to(avatar.means)
        params = avatar.head_params(z_dyn.reshape(1, -1).to(avatar.means), unposed)
        return avatar.head(params)[0, :, 1].cpu().numpy().astype(np.float64)
