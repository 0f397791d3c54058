import math

import torch

from vasa3d.gaussians.binding import bind, triangle_frames, unbind
from vasa3d.gaussians.rotation import axis_angle_to_matrix, matrix_to_quat, quat_multiply, quat_to_matrix


def _mesh():
    g = torch.Generator().manual_seed(0)
    verts = torch.randn(30, 3, generator=g) * 0.05
    faces = torch.randint(30, (40, 3), generator=g)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return verts, faces


def test_frames_are_rotations_with_normal_and_edge():
    verts, faces = _mesh()
    fr = triangle_frames(verts, faces)
    R = fr.rotation
    eye = torch.eye(3).expand_as(R)
    assert torch.allclose(R.transpose(-1, -2) @ R, eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(len(faces)), atol=1e-5)
    e0 = verts[faces[:, 1]] - verts[faces[:, 0]]
    assert torch.allclose(R[:, :, 0], e0 / e0.norm(dim=-1, keepdim=True), atol=1e-5)
    e2 = verts[faces[:, 2]] - verts[faces[:, 0]]
    assert torch.allclose((R[:, :, 2] * e2).sum(-1), torch.zeros(len(faces)), atol=1e-6)  # normal
    assert torch.allclose(fr.centre, verts[faces].mean(1), atol=1e-7)


def test_bind_unbind_round_trip_and_centroid():
    verts, faces = _mesh()
    fr = triangle_frames(verts, faces)
    g = torch.Generator().manual_seed(1)
    parent = torch.randint(len(faces), (100,), generator=g)
    world = torch.randn(100, 3, generator=g) * 0.05
    local = unbind(fr, parent, world)
    back, _, _ = bind(fr, parent, local, torch.tensor([1.0, 0, 0, 0]).repeat(100, 1), torch.zeros(100, 3))
    assert torch.allclose(back, world, atol=1e-6)
    at_centre, _, log_s = bind(fr, parent, torch.zeros(100, 3), torch.tensor([1.0, 0, 0, 0]).repeat(100, 1),
                               torch.zeros(100, 3))
    assert torch.allclose(at_centre, fr.centre[parent], atol=1e-7)
    assert torch.allclose(log_s, torch.log(fr.size[parent])[:, None].expand(-1, 3), atol=1e-6)


def test_rigid_motion_and_scaling_of_mesh_carry_gaussians():
    """Moving the mesh rigidly moves world means/rotations rigidly; scaling it scales the Gaussians."""
    verts, faces = _mesh()
    g = torch.Generator().manual_seed(2)
    parent = torch.randint(len(faces), (50,), generator=g)
    means = torch.randn(50, 3, generator=g)
    quats = torch.randn(50, 4, generator=g)
    log_s = torch.randn(50, 3, generator=g) * 0.3
    m0, q0, s0 = bind(triangle_frames(verts, faces), parent, means, quats, log_s)
    R = axis_angle_to_matrix(torch.tensor([0.3, -0.7, 0.2]))
    t = torch.tensor([0.01, -0.02, 0.5])
    m1, q1, s1 = bind(triangle_frames(verts @ R.T * 2.0 + t, faces), parent, means, quats, log_s)
    assert torch.allclose(m1, (m0 @ R.T) * 2.0 + t, atol=1e-5)
    assert torch.allclose(quat_to_matrix(q1), R @ quat_to_matrix(q0), atol=1e-5)
    assert torch.allclose(s1, s0 + math.log(2.0), atol=1e-5)


def test_batched_bind_matches_single():
    verts, faces = _mesh()
    vb = torch.stack([verts, verts * 1.5 + 0.1])
    parent = torch.arange(10) % len(faces)
    means, quats, log_s = torch.randn(10, 3), torch.randn(10, 4), torch.randn(10, 3)
    mb, qb, sb = bind(triangle_frames(vb, faces), parent, means, quats, log_s)
    for i in range(2):
        m, q, s = bind(triangle_frames(vb[i], faces), parent, means, quats, log_s)
        assert torch.allclose(mb[i], m, atol=1e-6) and torch.allclose(qb[i], q, atol=1e-6)


def test_quaternion_matrix_round_trip_all_branches():
    g = torch.Generator().manual_seed(3)
    q = torch.nn.functional.normalize(torch.randn(500, 4, generator=g), dim=-1)
    q = torch.where(q[:, :1] < 0, -q, q)
    q[:4] = torch.tensor([[0.0, 1, 0, 0], [0.0, 0, 1, 0], [0.0, 0, 0, 1], [1.0, 0, 0, 0]])
    assert torch.allclose(matrix_to_quat(quat_to_matrix(q)), q, atol=1e-5)
    a, b = q[:10], q[10:20]
    assert torch.allclose(quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b), atol=1e-5)
