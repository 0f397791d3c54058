"""The head region fades out down the neck instead of ending in a hard-edged box."""

import numpy as np
import torch

from vasa3d.eval.evaluate import side_view
from vasa3d.train.regions import head_region


def _avatar(path):
    from vasa3d.io import load_avatar

    return load_avatar(path).eval()


def _neck_column(region: np.ndarray, avatar, camera, z_dyn, z_pose) -> tuple[np.ndarray, int]:
    """The region down the image column through the chin, and the chin's row."""
    with torch.no_grad():
        verts = avatar.head(avatar.head_params(z_dyn[None], z_pose[None]))[0]
    uv, _ = camera.project(verts[int(avatar.head.landmark_vertices[152])][None])
    x, y = (int(v) for v in uv[0])
    return region[:, x], y


def _mesh_width(avatar, z_dyn, z_pose, camera, row: int) -> int:
    from vasa3d.train.regions import mesh_silhouette

    with torch.no_grad():
        verts = avatar.head(avatar.head_params(z_dyn[None], z_pose[None]))[0]
    return int(mesh_silhouette(verts, avatar.head.faces, camera)[row].sum())


def test_region_is_whole_on_the_head_and_fades_down_the_neck(astronaut_avatar):
    """... and its margin (for hair) grows from the head, not from the neck: no straight-sided column."""
    avatar = _avatar(astronaut_avatar)
    zd, zp = torch.zeros(avatar.dyn_dim), torch.zeros(avatar.pose_dim)
    for yaw in (0.0, -20.0):
        cam = side_view(avatar.camera, avatar.head_center, yaw)
        soft = head_region(avatar, zd, zp, cam, margin=0.08)[..., 0].numpy()
        hard = head_region(avatar, zd, zp, cam, margin=0.08, neck_fade=None)[..., 0].numpy()
        column, chin = _neck_column(soft, avatar, cam, zd, zp)
        hard_column, _ = _neck_column(hard, avatar, cam, zd, zp)
        assert soft.shape == hard.shape and soft.max() == 1.0
        face = column[chin - int(0.3 * cam.height): chin + 1]
        assert (face >= 0.999).all()  # the face, the jaw and the chin are all in
        below = column[chin:]
        neck_end = chin + int(np.flatnonzero(hard_column[chin:] > 0)[-1])  # where the mesh's neck ends
        assert neck_end - chin >= 0.06 * cam.height
        assert column[neck_end] < 0.35  # mostly gone where the hard region still ran on ...
        # ... through a ramp of many rows, not a cut (the largest step is where the chin hides the neck)
        assert np.abs(np.diff(below)).max() <= 0.15
        ramp = int(((below > 0.02) & (below < 0.98)).sum())
        assert ramp >= 0.1 * cam.height, ramp
        # within the old region, and the head itself nearly the same as the old region's above the chin
        assert not ((soft > 0) & ~(hard > 0)).any()
        top = chin - int(0.1 * cam.height)
        assert (soft[:top] > 0).sum() >= 0.97 * (hard[:top] > 0).sum()
        # beside the neck, below the chin, nothing is grown: the row is no wider than the neck's own
        # silhouette there (the old region grew its margin from the neck too)
        row = (chin + neck_end) // 2
        assert (soft[row] > 0).sum() <= _mesh_width(avatar, zd, zp, cam, row) + 1 < (hard[row] > 0).sum()
