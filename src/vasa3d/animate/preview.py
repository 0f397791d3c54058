"""Look at a dataset: a contact sheet of frames and a short preview video."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vasa3d.animate.dataset import FrameDataset

__all__ = ["contact_sheet", "preview_frames"]


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = tile.copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(ds: FrameDataset, count: int = 24, tile: int = 192, columns: int = 6) -> np.ndarray:
    """``count`` frames spread evenly over ``ds``, as one uint8 image.

    Each cell shows the frame (top) and the frame over grey where the mask is
    off (bottom), labelled with the frame index, yaw and jawOpen.
    """
    import cv2

    count = max(1, min(count, len(ds)))
    idx = np.unique(np.linspace(0, len(ds) - 1, count).round().astype(int))
    rows = -(-len(idx) // columns)
    sheet = np.full((rows * tile * 2, columns * tile, 3), 255, np.uint8)
    names = ds.manifest["latent"]["dyn_names"]
    jaw = names.index("jawOpen") if "jawOpen" in names else None
    motion = ds.motion
    for k, i in enumerate(idx):
        rgb, mask = ds.frame(int(i))
        small = cv2.resize(rgb, (tile, tile), interpolation=cv2.INTER_AREA)
        m = cv2.resize(mask, (tile, tile), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255.0
        cut = (small * m + 128 * (1 - m)).astype(np.uint8)
        yaw = np.degrees(motion.z_pose[i, 1]) if motion.z_pose.shape[1] > 1 else 0.0
        text = f"#{i} yaw {yaw:+.0f}" + (f" jaw {motion.z_dyn[i, jaw]:.2f}" if jaw is not None else "")
        r, c = divmod(k, columns)
        sheet[r * 2 * tile:(r * 2 + 1) * tile, c * tile:(c + 1) * tile] = _label(small, text)
        sheet[(r * 2 + 1) * tile:(r * 2 + 2) * tile, c * tile:(c + 1) * tile] = cut
    return sheet


def preview_frames(ds: FrameDataset, count: int) -> Iterator[np.ndarray]:
    """The first ``count`` frames (uint8, even-sized for the video encoder)."""
    for i in range(min(count, len(ds))):
        rgb, _ = ds.frame(i)
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        yield np.ascontiguousarray(rgb[:h, :w])
