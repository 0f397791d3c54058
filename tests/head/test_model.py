import pytest
import numpy as np
import torch

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.face import landmarks as L
from vasa3d.head import REGIONS, HeadParams, build_head, params_from_latent
from vasa3d.head.lbs import axis_angle_to_matrix, matrix_to_axis_angle


def _lm(head, **expr):
    p = HeadParams.neutral(1, head)
    for k, v in expr.items():
        p.expression[0, ARKIT_INDEX[k]] = v
    return head.landmarks(p)[0].detach().numpy()


def test_builtin_head_geometry(head):
    V = head.v_template.numpy()
    assert head.n_expression == 52 and head.n_shape > 20
    assert head.landmark_vertices.shape == (478,)
    assert head.faces.shape[1] == 3 and int(head.faces.max()) < head.n_vertices
    assert head.face_regions.shape == (head.faces.shape[0],) and head.vertex_regions.shape == (head.n_vertices,)
    lm = V[:478]
    # face ~0.14 m wide, facing +z, head centre at the origin, the head ~0.15 x 0.23 x 0.2 m
    assert abs(L.face_width(lm) - 0.14) < 1e-3
    assert lm[L.NOSE_TIP, 2] > lm[L.CHEEK_LEFT, 2] + 0.05
    head_only = V[head.vertex_regions.numpy() != REGIONS.index("neck")]
    assert np.abs(head_only.mean(0)[[0]]).max() < 1e-6
    assert 0.14 < np.ptp(head_only[:, 0]) < 0.19
    assert 0.18 < np.ptp(head_only[:, 2]) < 0.24
    assert 0.2 < np.ptp(head_only[:, 1]) < 0.3
    # inter-ocular distance of an adult (~6.3 cm)
    assert 0.055 < L.inter_ocular(lm) < 0.072
    for name in REGIONS:
        assert (head.vertex_regions == REGIONS.index(name)).sum() >= 10, name


def test_mirror_symmetric(head):
    V = head.v_template.numpy()
    m = head.extra("mirror").numpy()
    assert np.abs(V[m] * [-1, 1, 1] - V).max() < 1e-5


def test_jaw_open_opens_lips_and_shows_teeth(head):
    rest, open_ = _lm(head), _lm(head, jawOpen=1.0)
    assert L.lip_gap(rest) < 1e-4
    # the lips open by 1.5-4 cm and the chin drops
    assert 0.015 < L.lip_gap(open_) < 0.04
    assert open_[L.CHIN, 1] < rest[L.CHIN, 1] - 0.015
    # the upper face does not move
    assert np.abs(open_[L.FOREHEAD] - rest[L.FOREHEAD]).max() < 1e-6
    # lower teeth ride on the jaw
    p = HeadParams.neutral(1, head)
    p.expression[0, ARKIT_INDEX["jawOpen"]] = 1.0
    v0, v1 = head(HeadParams.neutral(1, head))[0], head(p)[0]
    teeth = head.extra("teeth")
    moved = (v1[teeth] - v0[teeth]).norm(dim=-1)
    assert (moved > 0.01).float().mean() > 0.3 and (moved < 1e-6).float().mean() > 0.3


def test_blink_closes_one_eye(head):
    rest, blink = _lm(head), _lm(head, eyeBlinkLeft=1.0)
    assert L.eye_aperture(blink, "left") < 0.1 * L.eye_aperture(rest, "left")
    assert abs(L.eye_aperture(blink, "right") - L.eye_aperture(rest, "right")) < 1e-6


def test_pose_rotation_translation_neck(head):
    p = HeadParams.neutral(1, head)
    v0 = head(p)[0]
    p.rotation[0] = torch.tensor([0.0, 0.5, 0.0])
    p.translation[0] = torch.tensor([0.01, 0.02, 0.03])
    v1 = head(p)[0]
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.5, 0.0]))
    assert torch.allclose(v1, v0 @ R.T + torch.tensor([0.01, 0.02, 0.03]), atol=1e-5)
    # neck rotation turns the head but keeps the neck base
    p = HeadParams.neutral(1, head)
    p.neck[0] = torch.tensor([0.0, 0.4, 0.0])
    v2 = head(p)[0]
    base = v0[:, 1] < -0.19
    assert (v2[base] - v0[base]).norm(dim=-1).max() < 1e-5
    assert (v2[:468] - v0[:468]).norm(dim=-1).mean() > 0.02


def test_batched_and_differentiable(head):
    p = HeadParams.neutral(3, head)
    p.expression[1, ARKIT_INDEX["jawOpen"]] = 0.5
    p.shape.requires_grad_(True)
    v = head(p)
    assert v.shape == (3, head.n_vertices, 3)
    assert torch.allclose(v[0], v[2]) and not torch.allclose(v[0], v[1])
    v.sum().backward()
    assert p.shape.grad is not None and p.shape.grad.abs().sum() > 0
    sub = head(p, head.landmark_vertices)
    assert torch.allclose(sub, v[:, :478], atol=1e-6)


def test_params_from_latent(head):
    z_dyn = torch.zeros(2, 52)
    z_dyn[1, ARKIT_INDEX["jawOpen"]] = 1
    z_pose = torch.zeros(2, 7)
    z_pose[1, :3] = torch.tensor([0.1, 0.2, 0.0])
    z_pose[1, 3:6] = torch.tensor([0.0, 0.0, 0.05])
    p = params_from_latent(z_dyn, z_pose, torch.zeros(1, head.n_shape))
    assert p.batch == 2 and p.shape.shape == (2, head.n_shape)
    assert torch.equal(p.expression, z_dyn) and torch.equal(p.rotation, z_pose[:, :3])
    assert torch.equal(p.translation, z_pose[:, 3:6])


def test_config_roundtrip(head):
    import json

    cfg = json.loads(json.dumps(head.config()))
    h2 = build_head(cfg)
    assert torch.equal(h2.v_template, head.v_template)


def test_axis_angle_roundtrip():
    aa = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0], [1.0, 2.0, -0.5]])
    assert torch.allclose(matrix_to_axis_angle(axis_angle_to_matrix(aa)), aa, atol=1e-5)


def test_posed_joints_follow_pose(head):
    p = HeadParams.neutral(2, head)
    p.rotation[1] = torch.tensor([0.0, 0.6, 0.0])
    p.translation[1] = torch.tensor([0.0, 0.0, 0.1])
    J = head.posed_joints(p)
    assert J.shape == (2, 5, 3)
    # the eyes sit ~3.3 cm either side of the midline, the jaw hinge below the centre
    assert J[0, 3, 0] < -0.025 and J[0, 4, 0] > 0.025 and J[0, 2, 1] < 0
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.6, 0.0]))
    assert torch.allclose(J[1], J[0] @ R.T + torch.tensor([0.0, 0.0, 0.1]), atol=1e-5)
    # an eyeball's centre does not move when the eye rotates
    p.eyes[0, 0] = torch.tensor([0.3, 0.3, 0.0])
    assert torch.allclose(head.posed_joints(p)[0, 3], J[0, 3], atol=1e-6)


def test_inner_mouth_shows_only_when_the_jaw_opens(head):
    from vasa3d.head.preview import draw_mesh
    from vasa3d.render.camera import Camera

    faces = head.faces.numpy()
    inside = (head.face_regions == REGIONS.index("mouth_interior")).numpy()
    cols = np.where(inside[:, None], 1.0, 0.0) * np.ones((1, 3))
    cam = Camera.orbit(0.0, 0.0, 0.6, target=(0.0, -0.05, 0.05), width=160, height=160, fov_deg=15.0)

    def interior_pixels(jaw):
        p = HeadParams.neutral(1, head)
        p.expression[0, ARKIT_INDEX["jawOpen"]] = jaw
        img = draw_mesh(head(p)[0].detach(), faces, cam, cols, background=np.zeros((160, 160, 3), np.uint8))
        return int((img[..., 0] > 60).sum())

    closed, open_ = interior_pixels(0.0), interior_pixels(1.0)
    assert closed < 20
    assert open_ > 300


def test_gradcheck_float64():
    """Rodrigues (incl. at zero) and the whole skinned head, against finite differences in float64."""
    aa = torch.tensor([[0.3, -0.2, 0.1], [0.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))
    head = build_head().double()
    ids = head.landmark_vertices[[1, 13, 14, 152, 159, 468, 473]]
    base = HeadParams.neutral(1, head, dtype=torch.float64)

    def f(shape, expression, jaw, eyes, rotation):
        p = base.replace(shape=shape, expression=expression, jaw=jaw, eyes=eyes, rotation=rotation)
        return head(p, ids)

    g = torch.Generator().manual_seed(0)
    args = (0.3 * torch.randn(1, head.n_shape, generator=g, dtype=torch.float64),
            torch.rand(1, 52, generator=g, dtype=torch.float64) * 0.5,
            0.1 * torch.randn(1, 3, generator=g, dtype=torch.float64),
            0.1 * torch.randn(1, 2, 3, generator=g, dtype=torch.float64),
            0.2 * torch.randn(1, 3, generator=g, dtype=torch.float64))
    args = tuple(a.requires_grad_(True) for a in args)
    assert torch.autograd.gradcheck(f, args, atol=1e-6)


def test_latent_log_scale_scales_the_posed_head_about_its_centre(head):
    """z_pose's log-scale (-log head distance) reaches the head: every vertex and joint of the turned,
    shifted head is exp(log-scale) times as far from the head centre (which the translation places)."""
    z_dyn = torch.zeros(2, 52)
    z_dyn[:, ARKIT_INDEX["jawOpen"]] = 0.4
    z_pose = torch.tensor([[0.1, 0.3, -0.05, 0.01, 0.02, -0.03, 0.0]]).repeat(2, 1)
    z_pose[1, 6] = -np.log(1.6)  # 1.6 times as far
    params = params_from_latent(z_dyn, z_pose, torch.zeros(1, head.n_shape))
    centre = z_pose[0, 3:6]
    for points in (head(params), head.posed_joints(params)):
        torch.testing.assert_close(points[1] - centre, (points[0] - centre) / 1.6)
    lm = head.landmarks(params).detach().numpy()
    assert L.face_width(lm[1]) / L.face_width(lm[0]) == pytest.approx(1 / 1.6, rel=1e-5)
    # parameters without a scale keep the head as it was
    unscaled = head(params.replace(scale=None))[0]
    torch.testing.assert_close(unscaled, head(params)[0])
    assert HeadParams.cat([params[0], HeadParams.neutral(1, head)]).scale.ravel().tolist() == [1.0, 1.0]
