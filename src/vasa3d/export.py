"""``vasa3d export``: an avatar as standard 3D Gaussian Splatting PLY files.

The Gaussians are the avatar's own after deformation (base + VAS), in the
head's world frame (metres, +y up, +z toward the viewer; see
:mod:`vasa3d.render.camera`), written by :func:`vasa3d.render.save_ply` in the
layout of the original 3DGS code that splat viewers read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from vasa3d.errors import InputError

log = logging.getLogger("vasa3d")


def posed_gaussians(avatar, z_dyn: torch.Tensor | None = None, z_pose: torch.Tensor | None = None):
    """The avatar's Gaussians for one latent (neutral when None), detached."""
    z_dyn = torch.zeros(1, avatar.dyn_dim) if z_dyn is None else z_dyn.reshape(1, -1)
    z_pose = torch.zeros(1, avatar.pose_dim) if z_pose is None else z_pose.reshape(1, -1)
    with torch.no_grad():
        return avatar(z_dyn, z_pose)[0].detach()


def export(avatar_path: str | os.PathLike, output: str | os.PathLike, motion_path: str | os.PathLike | None = None,
           frame: int | None = None, every: int | None = None, quiet: bool = False,
           head_model: str | os.PathLike | None = None) -> list[Path]:
    """Write the avatar as PLY: neutral, one frame of a motion, or every ``every``-th frame into a folder.

    Args:
        avatar_path: a ``.vasa3d`` file.
        output: a ``.ply`` file; with ``every``, a folder (created) for ``frame_00000.ply`` ...
        motion_path: a motion file (``.npz``, ARKit ``.csv`` or ``.json``) for ``frame`` or ``every``.
        frame: the motion frame to pose the avatar with (0-based).
        every: export frames 0, every, 2 * every, ... of the motion.

    Returns:
        The paths written.
    """
    from vasa3d.drive import check_motion_fits
    from vasa3d.io import load_avatar
    from vasa3d.io.paths import check_output_dir, check_output_path
    from vasa3d.motion.files import read_motion
    from vasa3d.progress import track
    from vasa3d.render import save_ply

    if frame is not None and every is not None:
        raise InputError("give either --frame N (one PLY file) or --every N (a folder of PLY files), not both")
    if (frame is not None or every is not None) and motion_path is None:
        raise InputError("--frame and --every pose the avatar with a motion file: add --motion FILE")
    if every is not None:
        if every < 1:
            raise InputError(f"--every {every}: give a step of 1 or more frames")
        out = check_output_dir(output, [avatar_path, motion_path, head_model], "PLY folder")
    else:
        out = check_output_path(output, [avatar_path, motion_path, head_model], (".ply",), "PLY file")
    motion = read_motion(motion_path) if motion_path is not None else None
    if motion is not None and frame is None and every is None:
        frame = 0
    if motion is not None and frame is not None and not 0 <= frame < len(motion):
        raise InputError(f"--frame {frame} is outside the motion's {len(motion)} frames (0 to {len(motion) - 1})")
    avatar = load_avatar(avatar_path, head_model=head_model)
    if motion is not None:
        check_motion_fits(motion, avatar, str(motion_path))
    if every is None:
        if motion is None:
            g = posed_gaussians(avatar)
        else:
            g = posed_gaussians(avatar, torch.from_numpy(motion.z_dyn[frame]), torch.from_numpy(motion.z_pose[frame]))
        save_ply(out, g)
        log.info("%d Gaussians -> %s", len(g), out)
        return [out]
    out.mkdir(exist_ok=True)
    written = []
    for t in track(range(0, len(motion), every), "exporting", quiet=quiet):
        path = out / f"frame_{t:05d}.ply"
        save_ply(path, posed_gaussians(avatar, torch.from_numpy(motion.z_dyn[t]), torch.from_numpy(motion.z_pose[t])))
        written.append(path)
    log.info("%d PLY files of %d Gaussians -> %s", len(written), avatar.n_gaussians, out)
    return written
