import numpy as np
import torch

import fake_head
from vasa3d.gaussians import AvatarConfig, GaussianAvatar
from vasa3d.render import rasterize
from vasa3d.render.types import SH_C0


def _avatar(head, n=3000, **kw):
    head, fit, analysis = fake_head.portrait_scene(96, head)
    return GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=n, hidden=32, **kw)), fit


def test_gaussians_sit_on_the_mesh_denser_on_the_face(head):
    avatar, fit = _avatar(head)
    assert avatar.n_gaussians == 3000
    g = avatar(torch.zeros(1, 52), torch.zeros(1, 7), vas=False)[0]
    # every centre lies on the ellipsoid's surface (triangles are chords, so slightly inside)
    r = ((g.means / torch.tensor([0.08, 0.11, 0.09])) ** 2).sum(-1).sqrt()
    assert r.max() <= 1.0 + 1e-4 and r.min() > 0.9
    region = head.face_regions[avatar.parent]
    dense_ids = [fake_head.REGIONS.index("face"), fake_head.REGIONS.index("lips")]
    face = torch.isin(region, torch.tensor(dense_ids))
    tri_area_face = sum(_area(head, r) for r in dense_ids)
    tri_area_all = _area(head, None)
    share = face.float().mean().item()
    area_share = tri_area_face / tri_area_all
    density_ratio = (share / area_share) / ((1 - share) / (1 - area_share))
    # face_density = 3, diluted by the one Gaussian every triangle gets first
    assert 2.0 < density_ratio < 3.0


def test_allocate_is_proportional_and_exact():
    from vasa3d.gaussians.seeding import allocate

    areas = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 3.0])
    c = allocate(areas, weights, 1004)
    assert c.sum() == 1004 and c[3] == 0
    share = (c - 1)[[0, 1, 2, 4]] / (c - 1)[[0, 1, 2, 4]].sum()
    assert np.allclose(share, np.array([1, 2, 3, 12]) / 18, atol=0.002)
    assert allocate(areas, weights, 2).sum() == 2


def _area(head, region):
    v = head.template[head.faces]
    a = 0.5 * torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1).norm(dim=-1)
    if region is not None:
        a = a[head.face_regions == region]
    return float(a.sum())


def test_colours_come_from_the_portrait(head):
    avatar, fit = _avatar(head)
    g = avatar(torch.zeros(1, 52), torch.zeros(1, 7), vas=False)[0]
    rgb = SH_C0 * g.sh[:, 0] + 0.5
    front = g.means[:, 2] > 0.05
    left_img = front & (g.means[:, 0] < -0.01)  # world -x shows on the image's left: red
    right_img = front & (g.means[:, 0] > 0.01)
    red = torch.tensor([200, 30, 30]) / 255
    blue = torch.tensor([30, 30, 200]) / 255
    assert torch.allclose(rgb[left_img].mean(0), red, atol=0.02)
    assert torch.allclose(rgb[right_img].mean(0), blue, atol=0.02)
    # the back of the head copies its nearest visible neighbour: red behind the left, blue behind the right
    back = g.means[:, 2] < -0.05
    assert (rgb[back & (g.means[:, 0] < -0.03)][:, 0] > 0.7).float().mean() > 0.9
    assert (rgb[back & (g.means[:, 0] > 0.03)][:, 2] > 0.7).float().mean() > 0.9


def test_render_at_fitted_camera_reproduces_portrait(head):
    avatar, fit = _avatar(head, n=6000)
    g = avatar(torch.zeros(1, 52), torch.zeros(1, 7))[0]
    out = rasterize(g, fit.camera, 96, 96, backend="auto")
    alpha = out.alpha[0, ..., 0]
    # the ellipsoid's silhouette is covered without holes
    uv, _ = fit.camera.project(head.template)
    centre = out.color[0, 40:56, 30:40]
    assert alpha[38:58, 38:58].min() > 0.98
    assert torch.allclose(centre.mean((0, 1)), torch.tensor([200, 30, 30]) / 255, atol=0.05)


def test_vas_starts_as_identity_and_is_region_limited(head):
    avatar, _ = _avatar(head)
    z = torch.rand(2, 52)
    p = torch.randn(2, 7) * 0.1
    base, full = avatar.deform(z, p)
    for a, b in zip(base, full):
        for x, y in zip(a.tensors(), b.tensors()):
            assert torch.allclose(x, y, atol=1e-6)
    # perturb D^e's output layer: only face-region Gaussians move
    with torch.no_grad():
        avatar.D_e.rest.layers[-1].bias[:3] = 0.5
    base, full = avatar.deform(z, p)
    moved = (base[0].means - full[0].means).norm(dim=-1) > 1e-6
    region = head.face_regions[avatar.parent]
    face_ids = [fake_head.REGIONS.index(r) for r in ("face", "lips")]
    assert moved.any()
    assert torch.equal(moved, torch.isin(region, torch.tensor(face_ids)))


def test_base_mlps_start_at_direct_mapping_and_pose_moves_head(head):
    avatar, _ = _avatar(head)
    p = torch.zeros(1, 7)
    p[0, 3:6] = torch.tensor([0.01, 0.02, -0.03])
    g0 = avatar(torch.zeros(1, 52), torch.zeros(1, 7), vas=False)[0]
    g1 = avatar(torch.zeros(1, 52), p, vas=False)[0]
    assert torch.allclose(g1.means - g0.means, p[0, 3:6].expand_as(g0.means), atol=1e-6)
    jaw = torch.zeros(1, 52)
    jaw[0, 24] = 1.0  # jawOpen
    g2 = avatar(jaw, torch.zeros(1, 7), vas=False)[0]
    moved = (g2.means - g0.means).norm(dim=-1)
    assert moved.max() > 0.005


def test_export_round_trip_is_exact(head):
    avatar, _ = _avatar(head)
    with torch.no_grad():
        for p in avatar.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    config, tensors = avatar.export()
    import json

    config = json.loads(json.dumps(config))
    assert not any(k.startswith("head.") for k in tensors)
    back = GaussianAvatar.from_export(config, tensors)
    z, p = torch.rand(2, 52), torch.randn(2, 7) * 0.1
    for a, b in zip(avatar(z, p), back(z, p)):
        for x, y in zip(a.tensors(), b.tensors()):
            assert torch.equal(x, y)
    assert torch.equal(back.camera.K, avatar.camera.K)


def test_other_latent_schema_without_direct_mapping(head):
    head_, fit, analysis = fake_head.portrait_scene(64, head)
    avatar = GaussianAvatar(head_, AvatarConfig(num_gaussians=500, hidden=16), fit.camera, 500, dyn_dim=20, pose_dim=12)
    assert not avatar.direct_mapping
    gs = avatar(torch.rand(3, 20), torch.rand(3, 12))
    assert len(gs) == 3 and gs[0].means.shape == (500, 3)
    loss = sum(g.means.sum() + g.sh.sum() for g in gs)
    loss.backward()
    assert avatar.M_e.layers[-1].weight.grad.abs().sum() > 0
