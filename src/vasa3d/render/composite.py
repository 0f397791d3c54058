"""What lies behind the avatar: a colour, an image, the portrait photo, or nothing (alpha).

``rasterize(..., background=zeros)`` returns the avatar over black, i.e. colour
premultiplied by its opacity, and the opacity itself; :func:`composite` puts
that over any background.  The offline jobs and the live engine both call it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError

NAMED_COLOURS = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}
BACKGROUND_HELP = ("black, white, #RRGGBB, an image file, portrait (the photo the avatar was made from, "
                   "the person removed and the shoulders following the head) or transparent (alpha: .webm "
                   "VP9 or a folder of PNGs)")


@dataclass(frozen=True)
class BackgroundSpec:
    """A parsed ``--background``: ``kind`` is colour, image, portrait or transparent."""

    kind: str
    colour: tuple[float, float, float] = (0.0, 0.0, 0.0)
    path: Path | None = None

    @property
    def transparent(self) -> bool:
        return self.kind == "transparent"


def parse_background(spec: str) -> BackgroundSpec:
    """``black | white | #RRGGBB | IMAGE | portrait | transparent`` -> :class:`BackgroundSpec`."""
    text = str(spec).strip()
    low = text.lower()
    if low in NAMED_COLOURS:
        return BackgroundSpec("colour", NAMED_COLOURS[low])
    if low in ("portrait", "transparent"):
        return BackgroundSpec(low)
    if low.startswith("#"):
        hexa = low[1:]
        if len(hexa) != 6 or any(c not in "0123456789abcdef" for c in hexa):
            raise InputError(f"bad --background colour {text!r}; write it as #RRGGBB, e.g. #1e90ff")
        return BackgroundSpec("colour", tuple(int(hexa[i:i + 2], 16) / 255.0 for i in (0, 2, 4)))
    path = Path(os.path.expanduser(text))
    if not path.is_file():
        raise InputError(f"--background {text!r} is neither a colour nor an existing image file; use "
                         + BACKGROUND_HELP)
    return BackgroundSpec("image", path=path)


def composite(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray | None) -> np.ndarray:
    """The avatar over ``background``, as a uint8 frame.

    Args:
        rgb: ``(H, W, 3)`` float, the render over black (premultiplied by ``alpha``).
        alpha: ``(H, W, 1)`` float in [0, 1], the render's accumulated opacity.
        background: ``(3,)`` colour or ``(H, W, 3)`` image, floats in [0, 1]; ``None`` for a
            transparent background.

    Returns:
        ``(H, W, 3)`` uint8 RGB, or ``(H, W, 4)`` uint8 RGBA (straight alpha) when ``background`` is None.
    """
    rgb = np.asarray(rgb, np.float32)
    alpha = np.clip(np.asarray(alpha, np.float32).reshape(*rgb.shape[:2], 1), 0.0, 1.0)
    if background is None:
        straight = np.where(alpha > 1e-6, rgb / np.maximum(alpha, 1e-6), 0.0)
        out = np.concatenate([straight, alpha], axis=-1)
    else:
        out = rgb + (1.0 - alpha) * np.asarray(background, np.float32)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def load_background_image(path: Path, size: int) -> np.ndarray:
    """An image file, scaled and centre-cropped to fill ``size`` x ``size``, as floats ``(S, S, 3)``."""
    import cv2

    from vasa3d.io import load_image

    image = load_image(path)
    h, w = image.shape[:2]
    s = size / min(h, w)
    image = cv2.resize(image, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
    y0, x0 = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[y0:y0 + size, x0:x0 + size].astype(np.float32) / 255.0


def fill_smooth(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image (H, W, 3)`` float32 in [0, 1] with ``hole (H, W)`` bool filled from the pixels around it.

    Deep in the hole the fill is smooth (push-pull: the known pixels averaged down an image pyramid, the
    averages spread back up into the hole): a wall behind a person comes back as its own colours, shading
    from one side to the other, without the streaks and the seam where two fronts meet that Telea's
    marching fill leaves in a hole the size of a person (they showed as pale and grey patches wherever a
    turned head uncovered the wall).  Within ``min(H, W) / 32`` px of the hole's edge it blends from Telea's
    fill, which continues the texture right at the edge, into the smooth one."""
    import cv2
    from scipy import ndimage

    image = np.asarray(image, np.float32)
    if not hole.any():
        return image.copy()
    weight = (~hole).astype(np.float32)[..., None]
    total = image * weight
    levels = []
    while min(weight.shape[:2]) > 2:
        levels.append((total, weight))
        h, w = weight.shape[:2]
        half = ((w + 1) // 2, (h + 1) // 2)
        total = cv2.resize(total, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], -1)
        weight = cv2.resize(weight, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], 1)
    smooth = total / np.maximum(weight, 1e-8)
    for total, weight in reversed(levels):
        h, w = weight.shape[:2]
        up = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        known = np.clip(weight, 0.0, 1.0)
        smooth = known * (total / np.maximum(weight, 1e-8)) + (1.0 - known) * up
    side = min(hole.shape)
    edge = cv2.inpaint(np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8), hole.astype(np.uint8) * 255,
                       max(3, side // 100), cv2.INPAINT_TELEA).astype(np.float32) / 255.0
    deep = np.clip(ndimage.distance_transform_edt(hole) / max(side / 32.0, 1.0), 0.0, 1.0)[..., None]
    fill = (1.0 - deep) * edge + deep * smooth
    return np.where(hole[..., None], fill, image).astype(np.float32)


class PortraitBackdrop:
    """The portrait photo behind the avatar: the person removed and filled in, the body following the head.

    Layers, back to front: the photo with the person inpainted (``plate``); the photo's
    person outside the head (shoulders, clothes, with a small margin), moved each frame
    by the head's on-screen shift; then the rendered avatar.  At the portrait's own view
    and a still head the two back layers give the photo itself.

    Args:
        image: ``(S, S, 3)`` uint8, the portrait at the avatar camera's view (any ``S``).
        mask: ``(S, S)`` uint8 person foreground (255 = person).
        head_alpha: ``(size, size)`` float, the avatar's opacity at rest from the portrait's view.
        size: output side in pixels.
        cover: ``(size, size)`` float, the opacity at rest of what the avatar carries whole (head and hair,
            not the neck that fades into the photo's): the photo's person is taken out of the body layer
            wherever it shows at all, so the photo's own hairline cannot follow the head on the flat body
            layer as a ghost outline.  None: only where ``head_alpha`` is opaque.
        head_row: the image row (pixels, at ``size``) where the avatar's neck starts to fade into the photo's.
            The photo's person above it that the avatar does not cover (hair tips beyond the avatar's hair,
            the edges of the ears) belongs to the head, not the body: it is kept apart (``layer``'s
            ``head_keep``), so that it can show at rest and fade as the head moves instead of staying
            behind a turned head as strands and pale patches.  None: all of the person is body.
    """

    def __init__(self, image: np.ndarray, mask: np.ndarray, head_alpha: np.ndarray, size: int,
                 cover: np.ndarray | None = None, head_row: float | None = None):
        import cv2

        interp = cv2.INTER_AREA if image.shape[0] >= size else cv2.INTER_CUBIC
        photo = cv2.resize(np.asarray(image, np.uint8), (size, size), interpolation=interp)
        person = cv2.resize(np.asarray(mask, np.uint8), (size, size), interpolation=cv2.INTER_LINEAR) > 127
        head = np.asarray(head_alpha, np.float32).reshape(size, size)
        k = max(3, size // 64) | 1  # ~8 px at 512
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        hole = cv2.dilate(((person | (head > 0.05)) * 255).astype(np.uint8), kernel, iterations=2)
        self.plate = fill_smooth(photo.astype(np.float32) / 255.0, hole > 0)
        # the plate shows only where the head is opaque at rest; at its soft edge the photo stays
        # under it, so the still frame is the photo (a turned head may uncover a sliver of old edge)
        head_core = cv2.erode((head > 0.98).astype(np.float32), kernel)
        if cover is not None:
            whole = cv2.dilate((np.asarray(cover, np.float32).reshape(size, size) > 0.05).astype(np.float32), kernel)
            head_core = np.maximum(head_core, whole)
        body = cv2.dilate(person.astype(np.float32), kernel)
        self.body_alpha = (cv2.GaussianBlur(body, (k, k), 0) * (1.0 - cv2.GaussianBlur(head_core, (k, k), 0)))[..., None]
        self.head_alpha = None
        if head_row is not None:  # a soft step (size/32 tall) from head above the row to body below it
            above = np.clip((float(head_row) - np.arange(size, dtype=np.float32)) / max(size / 32.0, 1.0) + 0.5,
                            0.0, 1.0)[:, None, None]
            self.head_alpha = self.body_alpha * above
            self.body_alpha = self.body_alpha - self.head_alpha
        self.photo = photo.astype(np.float32) / 255.0
        self.size = size

    def layer(self, shift: tuple[float, float] = (0.0, 0.0), head_keep: float = 1.0) -> np.ndarray:
        """``(S, S, 3)`` floats: the plate with the body moved by ``shift`` = (dx, dy) pixels, and the photo's
        person above ``head_row`` that the avatar does not cover at ``head_keep`` of its opacity (1 at rest,
        0 once the head has moved away from it)."""
        import cv2

        a = self.body_alpha
        if self.head_alpha is not None:
            a = a + float(np.clip(head_keep, 0.0, 1.0)) * self.head_alpha
        if abs(shift[0]) < 1e-3 and abs(shift[1]) < 1e-3:
            photo = self.photo
        else:
            M = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
            photo = cv2.warpAffine(self.photo, M, (self.size, self.size), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
            a = cv2.warpAffine(a, M, (self.size, self.size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)[..., None]
        return a * photo + (1.0 - a) * self.plate
