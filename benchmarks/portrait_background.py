"""The README's ``--background portrait`` picture, and its PSNR outside the face.

Renders an astronaut avatar on ``--background portrait`` at rest and with the jaw open and the head turned
12 degrees, writes the photo's crop beside them to docs/images/portrait-background.jpg and prints the PSNR
against the crop of the frame at rest outside the face (the landmarks' hull) and outside the avatar (where
only the backdrop shows).  The avatar: the file given (the README's picture is `make demo`'s avatar), else
the untrained one tests/conftest.py makes (10k Gaussians coloured from the photo, its portrait layers stored).

    .venv/bin/python benchmarks/portrait_background.py [out/demo/avatar.vasa3d]
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.drive import RenderConfig, render_frames
from vasa3d.face import analyze_portrait
from vasa3d.face.backdrop import portrait_tensors
from vasa3d.gaussians import AvatarConfig, GaussianAvatar
from vasa3d.head import build_head, fit_portrait
from vasa3d.motion.latent import MotionLatent

SIZE = 256
OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "portrait-background.jpg"


def main() -> None:
    image = data.astronaut()
    analysis = analyze_portrait(image, size=SIZE)
    if len(sys.argv) > 1:
        from vasa3d.io import load_avatar

        avatar = load_avatar(sys.argv[1])
    else:
        head = build_head(None)
        avatar = GaussianAvatar.from_portrait(head, fit_portrait(analysis, head), analysis,
                                              AvatarConfig.preset("demo"))
        avatar.portrait = portrait_tensors(image, analysis)
    motion = MotionLatent.neutral(2)
    motion.z_dyn[1, ARKIT_INDEX["jawOpen"]] = 0.5
    motion.z_pose[1, 1] = np.radians(12)
    rest, turned = render_frames(avatar, motion, RenderConfig(size=SIZE, background="portrait"), quiet=True)
    face = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(analysis.landmarks[:, :2].astype(np.int32)), 1)
    err = ((rest.astype(np.float64) - analysis.image) ** 2)[face == 0].mean()
    print(f"PSNR outside the face at rest: {10 * np.log10(255.0 ** 2 / err):.2f} dB")
    import torch

    from vasa3d.pipeline import view_camera
    from vasa3d.render import rasterize

    with torch.no_grad():
        g = avatar(torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim))[0]
        cam = view_camera(avatar.camera, avatar.head_center.detach().reshape(3), 0.0, 0.0, SIZE)
        alpha = rasterize(g, cam, SIZE, SIZE).alpha[0, ..., 0].numpy()
    outside = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    err = ((rest.astype(np.float64) - analysis.image) ** 2)[outside].mean()
    print(f"PSNR outside the avatar at rest ({outside.mean():.0%} of the frame): {10 * np.log10(255.0 ** 2 / err):.2f} dB")
    sheet = np.concatenate([analysis.image, rest, turned], axis=1)
    cv2.imwrite(str(OUT), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
