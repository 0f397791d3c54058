"""The README's ``--background portrait`` picture, and its PSNR outside the face.

Makes the untrained astronaut avatar that tests/conftest.py makes (10k Gaussians coloured from the photo,
its portrait layers stored), renders it on ``--background portrait`` at rest and with the jaw open and the
head turned 12 degrees, writes the photo's crop beside them to docs/images/portrait-background.jpg and
prints the PSNR against the crop outside the face (the landmarks' hull) of the frame at rest.

    .venv/bin/python benchmarks/portrait_background.py
"""

from __future__ import annotations

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
    head = build_head(None)
    avatar = GaussianAvatar.from_portrait(head, fit_portrait(analysis, head), analysis, AvatarConfig.preset("demo"))
    avatar.portrait = portrait_tensors(image, analysis)
    motion = MotionLatent.neutral(2)
    motion.z_dyn[1, ARKIT_INDEX["jawOpen"]] = 0.5
    motion.z_pose[1, 1] = np.radians(12)
    rest, turned = render_frames(avatar, motion, RenderConfig(size=SIZE, background="portrait"), quiet=True)
    face = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(analysis.landmarks[:, :2].astype(np.int32)), 1)
    err = ((rest.astype(np.float64) - analysis.image) ** 2)[face == 0].mean()
    print(f"PSNR outside the face at rest: {10 * np.log10(255.0 ** 2 / err):.2f} dB")
    sheet = np.concatenate([analysis.image, rest, turned], axis=1)
    cv2.imwrite(str(OUT), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
