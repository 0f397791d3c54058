import numpy as np
import pytest
import torch

from vasa3d.animate.raster import (
    interpolate,
    interpolate_reference,
    rasterize_mesh,
    rasterize_mesh_reference,
    sample_bilinear,
    sample_bilinear_reference,
)
from vasa3d.render.camera import Camera


def _random_mesh(rng, n_tri=60, size=64):
    uv = rng.uniform(-8, size + 8, (n_tri * 3, 2))
    z = rng.uniform(0.5, 3.0, n_tri * 3)
    faces = np.arange(n_tri * 3).reshape(-1, 3)
    return uv, z, faces


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("cull", ["none", "cw", "ccw"])
def test_matches_reference(parallel, cull):
    rng = np.random.default_rng(0)
    uv, z, faces = _random_mesh(rng)
    fast = rasterize_mesh(uv, z, faces, 64, 48, cull=cull, parallel=parallel)
    ref = rasterize_mesh_reference(uv, z, faces, 64, 48, cull=cull)
    assert fast.covered.sum() > 500
    np.testing.assert_array_equal(fast.tri_id, ref.tri_id)
    np.testing.assert_allclose(fast.bary, ref.bary, atol=1e-5)
    np.testing.assert_allclose(fast.depth[fast.covered], ref.depth[ref.covered], rtol=1e-5)


def test_square_covers_exact_pixels_once():
    # Two triangles sharing a diagonal: the square [10,30]x[20,40] holds exactly 20x20 pixel centres.
    uv = np.array([[10, 20], [30, 20], [30, 40], [10, 40]], float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    r = rasterize_mesh(uv, np.ones(4), faces, 50, 50)
    assert r.covered.sum() == 400
    assert r.covered[20:40, 10:30].all()
    np.testing.assert_allclose(r.bary.sum(-1)[r.covered], 1.0, atol=1e-6)
    mask = rasterize_mesh(uv, np.ones(4), faces, 50, 50, face_mask=np.array([True, False]))
    assert 180 <= mask.covered.sum() <= 220


def test_zbuffer_keeps_nearest_and_perspective_correct_barycentrics():
    cam = Camera.look_at((0.0, 0.0, 1.0), width=64, height=64, fov_deg=40)
    # a slanted triangle and a farther one behind it
    tri = torch.tensor([[-0.2, -0.2, 0.1], [0.2, -0.2, -0.2], [0.0, 0.25, 0.0],
                        [-0.3, -0.3, -0.5], [0.3, -0.3, -0.5], [0.0, 0.3, -0.5]])
    uv, depth = cam.project(tri)
    r = rasterize_mesh(uv.numpy(), depth.numpy(), np.array([[0, 1, 2], [3, 4, 5]]), 64, 64)
    assert (r.tri_id == 0).sum() > 100 and (r.tri_id == 1).sum() > 50
    # at each pixel of triangle 0, the 3D point from the barycentrics projects back onto the pixel centre
    rows, cols = np.nonzero(r.tri_id == 0)
    b = torch.from_numpy(r.bary[rows, cols])
    pts = b @ tri[:3]
    puv, pz = cam.project(pts)
    np.testing.assert_allclose(puv[:, 0].numpy(), cols + 0.5, atol=1e-3)
    np.testing.assert_allclose(puv[:, 1].numpy(), rows + 0.5, atol=1e-3)
    np.testing.assert_allclose(pz.numpy(), r.depth[rows, cols], rtol=1e-5)


def test_interpolate_and_sample_match_reference():
    rng = np.random.default_rng(1)
    uv, z, faces = _random_mesh(rng, 30, 40)
    r = rasterize_mesh(uv, z, faces, 40, 40)
    attr = rng.normal(size=(len(uv), 2)).astype(np.float32)
    np.testing.assert_allclose(interpolate(attr, faces, r), interpolate_reference(attr, faces, r), atol=1e-5)
    # interpolating the vertices' own screen positions reproduces pixel centres (affine in screen space
    # only when z is constant, so use a constant-depth copy)
    flat = rasterize_mesh(uv, np.ones(len(uv)), faces, 40, 40)
    pix = interpolate(uv.astype(np.float32), faces, flat)
    rows, cols = np.nonzero(flat.covered)
    np.testing.assert_allclose(pix[rows, cols, 0], cols + 0.5, atol=1e-3)
    np.testing.assert_allclose(pix[rows, cols, 1], rows + 0.5, atol=1e-3)

    image = rng.uniform(0, 1, (20, 30, 3)).astype(np.float32)
    coords = rng.uniform(-3, 33, (25, 25, 2)).astype(np.float32)
    valid = rng.uniform(size=(25, 25)) > 0.2
    np.testing.assert_allclose(sample_bilinear(image, coords, valid),
                               sample_bilinear_reference(image, coords, valid), atol=1e-5)
    # at a pixel centre the sample equals the pixel
    centre = np.array([[[7.5, 4.5]]], np.float32)
    np.testing.assert_allclose(sample_bilinear(image, centre)[0, 0], image[4, 7], atol=1e-6)
