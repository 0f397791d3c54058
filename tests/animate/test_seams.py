"""The animator's frames carry no seam of their own along the jaw, and no background under the head.

On three people (tests/animate/portraits.py).  These frames are what the avatar is trained on: a line
or a pale wedge here becomes one in every avatar (docs/dataset.md, "Seams and the jaw line").
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from portraits import PORTRAITS  # noqa: E402

from vasa3d.eval.seam import jaw_contour, jaw_seam  # noqa: E402

S = 256


@pytest.fixture(scope="module", params=sorted(PORTRAITS))
def setup(request):
    from vasa3d.animate import MeshWarpAnimator
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # skimage's PiecewiseAffineTransform.estimate
        image = PORTRAITS[request.param]()
    analysis = analyze_portrait(image, size=S)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    return request.param, analysis, head, MeshWarpAnimator(analysis, fit, head)


def _turned(animator, yaw_deg: float):
    z_dyn, z_pose = animator.portrait_latent
    p = np.array(z_pose, np.float32).copy()
    p[1] += np.radians(yaw_deg)
    return z_dyn, p


def test_no_jaw_line_the_photo_does_not_have(setup):
    name, analysis, head, animator = setup
    lmv = head.landmark_vertices.numpy()
    pts, ref = jaw_contour(animator.vertices(*animator.portrait_latent), lmv, animator.camera)
    photo = jaw_seam(analysis.image, pts, ref)
    for yaw in (0.0, -30.0, 30.0):
        z_dyn, z_pose = _turned(animator, yaw)
        frame = animator.render(z_dyn, z_pose)
        pts, ref = jaw_contour(animator.vertices(z_dyn, z_pose), lmv, animator.camera)
        seam = jaw_seam(frame["rgb"], pts, ref, coverage=frame["mask"] > 0.5)
        assert seam["profiles"] > 40, (name, yaw)
        # a bright line at most as strong as the photo's own skin texture gives, plus a little
        assert seam["bright"] <= photo["bright"] + 0.04, (name, yaw, seam, photo)
        assert seam["dark"] <= photo["dark"] + 0.06, (name, yaw, seam, photo)


def test_no_background_in_the_body_layer_under_the_head(setup):
    """What a turning head uncovers inside its old outline is hair or neck: the fill under the head
    takes no background colour (it took 9-16% before, the pale wedges along the jaw and temples)."""
    name, analysis, head, animator = setup
    from vasa3d.animate.raster import rasterize_mesh

    img = analysis.image.astype(np.float32) / 255
    background = np.median(img[analysis.mask < 0.1], 0)
    verts = animator.vertices(*animator.portrait_latent)
    uv, z = (t.numpy().astype(np.float32) for t in animator.camera.project(verts))
    under = rasterize_mesh(uv, z, animator.faces, S, S).covered
    distance = np.linalg.norm(animator.layers.body[under] - background, axis=1)
    assert np.mean(distance < 0.15) < 0.04, name


def test_a_turning_head_with_its_hair_uncovers_the_wall_not_a_ghost_of_itself(setup):
    """The hair shell carries the hair, so above the neck a turned head leaves the wall behind it in its old
    outline: the body layer went on under all of the head (as it must for a bare skull inside the hair), and
    a turn showed an opaque pale ghost of the head beside the face, trained into avatars as smears. Behind
    the neck's tube the body (the neck) still continues; behind the nape above it (head version 3), which
    turns with the head, it does not: with it there, the wall a turn uncovers beside the cheeks at the
    eyes' height showed neck colours (20 % of it for Grace Hopper at -30 degrees)."""
    name, analysis, head, animator = setup
    from vasa3d.animate.raster import rasterize_mesh

    assert head.n_hair > 0
    verts = animator.vertices(*animator.portrait_latent)
    uv, z = (t.numpy().astype(np.float32) for t in animator.camera.project(verts))
    r_neck = list(head.regions).index("neck")
    in_head_frame = animator.vertices(np.zeros(52, np.float32), np.zeros(7, np.float32)).numpy()
    tube = (in_head_frame[animator.faces, 1] <= animator.config.body_neck_top_m).all(axis=1)
    assert ((animator.face_region == r_neck) & ~tube).sum() >= 24  # the nape: a ring of neck faces above the tube
    rest = rasterize_mesh(uv, z, animator.faces, S, S, face_mask=animator.face_region != r_neck).covered
    neck = rasterize_mesh(uv, z, animator.faces, S, S, face_mask=(animator.face_region == r_neck) & tube).covered
    chin = np.flatnonzero(rest.any(axis=1))[-1]
    assert animator.layers.body_alpha[neck & rest].mean() > 0.95, name  # the neck goes on behind the jaw
    for yaw in (-30.0, 30.0):
        frame = animator.render(*_turned(animator, yaw))
        uncovered = rest & ~frame["covered"]
        uncovered[chin - S // 10:] = False  # above the jaw's corner
        uncovered &= ~neck
        assert uncovered.sum() > 100, (name, yaw, uncovered.sum())
        assert frame["mask"][uncovered].mean() < 0.1, (name, yaw, frame["mask"][uncovered].mean())


def test_the_side_of_the_neck_a_turn_uncovers_is_drawn_whole(setup):
    """The neck mesh fades into the body layer downward (the real neck and collar); where a turn shows the side
    of the neck over the wall there is no body behind it, and faded there it came out as a pale grey strip
    beside the neck. Every pixel where the fading part of the neck shows is foreground."""
    name, analysis, head, animator = setup
    from vasa3d.animate.raster import rasterize_mesh

    faces = animator.faces
    r_neck = list(head.regions).index("neck")
    rest = animator.vertices(np.zeros(52, np.float32), np.zeros(7, np.float32)).numpy()  # the head frame
    y = rest[:, 1][faces].mean(axis=1)
    top, bottom = animator.config.neck_fade_m
    fading = (animator.face_region == r_neck) & (y < top) & (y > bottom + 0.01)
    for yaw in (-30.0, 30.0):
        z_dyn, z_pose = _turned(animator, yaw)
        frame = animator.render(z_dyn, z_pose)
        uv, z = (t.numpy().astype(np.float32) for t in animator.camera.project(animator.vertices(z_dyn, z_pose)))
        tri = rasterize_mesh(uv, z, faces, S, S).tri_id
        shows = (tri >= 0) & fading[np.maximum(tri, 0)]
        shows &= ndimage.binary_erosion(tri >= 0)  # not the antialiased rim
        assert shows.sum() > 50, (name, yaw)
        assert np.mean(frame["mask"][shows] < 0.9) < 0.03, (name, yaw, np.mean(frame["mask"][shows] < 0.9))


def test_the_underside_of_the_jaw_is_filled_with_the_faces_skin(setup):
    """The skin under the jaw (which the photo never shows and a turned head does) takes the colour of the skin
    across the jaw line. It was one flat colour, the mean of the neck's shown texels, collar included (the
    astronaut's black collar made it grey, Grace Hopper's white one pale), and read as a band along the jaw."""
    import torch

    from vasa3d.animate.meshwarp import _under_jaw
    from vasa3d.head import params_from_latent

    name, analysis, head, animator = setup
    faces, vregion, regions = head.faces.numpy(), head.vertex_regions.numpy(), list(head.regions)
    with torch.no_grad():  # the fitted person's head at rest, where the animator decides what is under the jaw
        rest = params_from_latent(torch.zeros(1, 52), torch.zeros(1, 7), animator.shape)
        canonical = head(rest)[0].numpy().astype(np.float64)
    under = _under_jaw(canonical) & np.isin(vregion, [regions.index("scalp"), regions.index("ears")])
    line = np.zeros(len(vregion), bool)  # the face's vertices that share a triangle with the jaw's underside
    line[faces[under[faces].any(1)].ravel()] = True
    line &= vregion == regions.index("face")
    assert under.sum() >= 40 and line.sum() >= 10
    colour = animator.attr[:, -3:]  # what each vertex is drawn with where the photo does not show it
    # measured 0.001-0.017 (max over RGB); the flat fill was 0.19-0.31 away, with no spread at all
    assert np.abs(colour[under].mean(0) - colour[line].mean(0)).max() < 0.05, (name, colour[under].mean(0))
    assert colour[under].std(0).max() > 0.005, name  # filled, not one flat colour
