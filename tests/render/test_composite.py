"""Backgrounds: colours, images, the portrait photo (person removed, body following the head), alpha."""

from __future__ import annotations

import numpy as np
import pytest

from vasa3d.errors import InputError
from vasa3d.render.composite import PortraitBackdrop, composite, parse_background


def test_parse_background():
    assert parse_background("black").colour == (0.0, 0.0, 0.0)
    assert parse_background("White").colour == (1.0, 1.0, 1.0)
    assert parse_background("#1e90ff").colour == pytest.approx((30 / 255, 144 / 255, 1.0))
    assert parse_background("portrait").kind == "portrait"
    assert parse_background("transparent").transparent
    for bad in ("#12345", "#gggggg", "no-such-file.png"):
        with pytest.raises(InputError):
            parse_background(bad)


def test_composite_over_colour_image_and_alpha():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0, 1, (4, 5, 1)).astype(np.float32)
    straight = rng.uniform(0, 1, (4, 5, 3)).astype(np.float32)
    rgb = straight * alpha  # what rasterize gives over black
    out = composite(rgb, alpha, np.array([0.0, 0.5, 1.0]))
    want = straight * alpha + (1 - alpha) * np.array([0.0, 0.5, 1.0])
    assert np.abs(out / 255.0 - want).max() <= 0.5 / 255 + 1e-6
    image = rng.uniform(0, 1, (4, 5, 3))
    assert np.abs(composite(rgb, alpha, image) / 255.0 - (rgb + (1 - alpha) * image)).max() <= 0.5 / 255 + 1e-6
    rgba = composite(rgb, alpha, None)
    assert rgba.shape == (4, 5, 4)
    assert np.abs(rgba[..., 3] / 255.0 - alpha[..., 0]).max() <= 0.5 / 255 + 1e-6
    keep = alpha[..., 0] > 0.1  # straight colour comes back where there is coverage
    assert np.abs(rgba[..., :3][keep] / 255.0 - straight[keep]).max() < 0.03


def test_portrait_backdrop_is_the_photo_at_rest_and_moves_the_body():
    size = 64
    yy, xx = np.mgrid[:size, :size]
    photo = np.zeros((size, size, 3), np.uint8)
    photo[..., 2] = 200  # blue wall
    person = ((xx - 32) ** 2 / 20 ** 2 + (yy - 70) ** 2 / 26 ** 2 < 1) | ((xx - 32) ** 2 + (yy - 24) ** 2 < 12 ** 2)
    photo[person] = (180, 120, 60)
    head = ((xx - 32) ** 2 + (yy - 24) ** 2 < 13 ** 2).astype(np.float32)
    b = PortraitBackdrop(photo, (person * 255).astype(np.uint8), head, size)
    rest = b.layer()
    from scipy.ndimage import binary_dilation

    outside = ~binary_dilation(head > 0, iterations=3)  # the head's edge blends into the fill
    err = np.abs(rest[outside] - photo[outside] / 255.0)
    assert err.mean() < 0.003 and err.max() < 0.06  # inpainted pixels touch the person's edge here and there
    # where the head was, the wall is filled in (blue, not the skin colour)
    assert rest[24, 32, 2] > 0.6 and rest[24, 32, 0] < 0.2
    moved = b.layer((4.0, 0.0))
    # at row 60 the body spans x = 14..50; moved 4 px right it spans 18..54, the wall filled in behind
    assert rest[60, 16, 0] > 0.6 and moved[60, 16, 0] < 0.2 and moved[60, 16, 2] > 0.6
    assert rest[60, 53, 0] < 0.2 and moved[60, 52, 0] > 0.6


def test_portrait_backdrop_cover_takes_the_photos_hair_out_of_the_body_layer():
    """A head whose soft hair edge covers the photo's hair: with ``cover`` the flat body layer no longer
    carries that hair (it would follow the head as a ghost outline); the shoulders stay."""
    size = 64
    yy, xx = np.mgrid[:size, :size]
    photo = np.zeros((size, size, 3), np.uint8)
    photo[..., 2] = 200  # blue wall
    hair = (xx - 32) ** 2 + (yy - 24) ** 2 < 16 ** 2
    shoulders = (xx - 32) ** 2 / 24 ** 2 + (yy - 74) ** 2 / 26 ** 2 < 1
    person = hair | shoulders
    photo[hair] = (90, 60, 20)  # brown hair
    photo[shoulders] = (180, 180, 180)
    r = np.sqrt((xx - 32.0) ** 2 + (yy - 24.0) ** 2)
    head = np.clip((16.0 - r) / 6.0, 0, 1).astype(np.float32)  # opaque to r = 10, soft out to 16
    plain = PortraitBackdrop(photo, (person * 255).astype(np.uint8), head, size)
    covered = PortraitBackdrop(photo, (person * 255).astype(np.uint8), head, size, cover=head)
    ring = (r > 11.5) & (r < 14.5) & (yy < 24)  # the hair's soft edge above the ears
    # without cover the photo's hair stays in the body layer under the soft edge; with it the wall shows
    assert plain.layer()[ring][:, 0].mean() > 0.25
    moved = covered.layer((3.0, 0.0))
    assert covered.layer()[ring][:, 0].mean() < 0.1 and moved[ring][:, 2].mean() > 0.6
    # the shoulders are still the photo's, and move with the head
    assert covered.layer()[60, 32, 0] > 0.6
    assert covered.layer()[60, 54, 0] < 0.2 and covered.layer((3.0, 0.0))[60, 54, 0] > 0.6


def test_portrait_backdrop_keeps_the_photos_head_apart_from_the_body():
    """The photo's person above ``head_row`` that the avatar does not cover (hair tips beyond the avatar's hair)
    shows at rest and goes with ``head_keep`` (a turned head would leave it behind as strands); below the row
    the shoulders stay the body's."""
    size = 64
    yy, xx = np.mgrid[:size, :size]
    photo = np.zeros((size, size, 3), np.uint8)
    photo[..., 2] = 200  # blue wall
    r = np.sqrt((xx - 32.0) ** 2 + (yy - 24.0) ** 2)
    hair = r < 19  # the photo's hair reaches 3 px past the avatar's (soft to r = 16)
    shoulders = (xx - 32) ** 2 / 24 ** 2 + (yy - 74) ** 2 / 26 ** 2 < 1
    photo[hair] = (90, 60, 20)
    photo[shoulders] = (180, 180, 180)
    head = np.clip((16.0 - r) / 6.0, 0, 1).astype(np.float32)
    mask = ((hair | shoulders) * 255).astype(np.uint8)
    flat = PortraitBackdrop(photo, mask, head, size, cover=head)
    split = PortraitBackdrop(photo, mask, head, size, cover=head, head_row=44.0)
    tips = (r > 17) & (r < 18.5) & (yy < 24)  # beyond the dilated cover, above the ears
    assert tips.sum() > 20
    # at rest both are the photo there (the hair's colour), and the split one's tips go with head_keep
    assert flat.layer()[tips][:, 0].mean() > 0.25 and split.layer()[tips][:, 0].mean() > 0.25
    assert flat.layer(head_keep=0.0)[tips][:, 0].mean() > 0.25
    gone = split.layer(head_keep=0.0)[tips]
    assert gone[:, 0].mean() < 0.08 and gone[:, 2].mean() > 0.6
    half = split.layer(head_keep=0.5)[tips][:, 0].mean()
    assert 0.3 * split.layer()[tips][:, 0].mean() < half < 0.7 * split.layer()[tips][:, 0].mean()
    # the shoulders (below the row) stay, whatever the head does, and move with the body
    for keep in (1.0, 0.0):
        assert split.layer(head_keep=keep)[60, 32, 0] > 0.6
        assert split.layer((3.0, 0.0), keep)[60, 54, 0] > 0.6 and split.layer(head_keep=keep)[60, 54, 0] < 0.2


def test_fill_smooth_brings_back_a_shaded_wall_without_seams():
    """A person-sized hole in a wall that shades across the picture: the fill follows the shading (Telea's
    marching fill misses it by 0.03 on average here, 0.14 at worst) and has no seam (Telea: steps of 0.09
    between neighbouring pixels where its fronts meet; the wall's own step is 0.003)."""
    from vasa3d.render.composite import fill_smooth

    n = 128
    yy, xx = np.mgrid[:n, :n].astype(np.float32)
    wall = np.stack([0.3 + 0.4 * xx / n, 0.5 + 0.2 * yy / n, 0.6 - 0.3 * xx / n], -1).astype(np.float32)
    hole = (xx - 64) ** 2 / 40 ** 2 + (yy - 80) ** 2 / 60 ** 2 < 1
    image = wall.copy()
    image[hole] = (0.8, 0.6, 0.4)  # the person
    filled = fill_smooth(image, hole)
    assert np.array_equal(filled[~hole], image[~hole])
    err = np.abs(filled - wall)[hole]
    assert err.mean() < 0.015 and err.max() < 0.06
    inside = hole[:, 1:] & hole[:, :-1]
    assert np.abs(np.diff(filled, axis=1)).max(axis=2)[inside].max() < 0.03
    inside = hole[1:] & hole[:-1]
    assert np.abs(np.diff(filled, axis=0)).max(axis=2)[inside].max() < 0.03
