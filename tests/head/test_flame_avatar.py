"""FLAME behind the ARKit latent: the fitted ARKit -> FLAME map, the fit in the built-in camera,
the avatar's M^e path and its file record (a digest, never a path)."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import flame_file  # noqa: E402

from vasa3d.arkit import ARKIT_INDEX  # noqa: E402
from vasa3d.errors import InputError, MissingAssetError  # noqa: E402
from vasa3d.head import HeadParams, build_head, params_from_latent  # noqa: E402
from vasa3d.head.arkit_map import fit_arkit_map  # noqa: E402
from vasa3d.head.flame import load_flame  # noqa: E402

ROTATING = {"jawOpen", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeLookDownRight",
            "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight"}


@pytest.fixture(scope="module")
def flame_path(tmp_path_factory):
    return flame_file.write_flame_file(tmp_path_factory.mktemp("flame") / "generic_model.pkl")


@pytest.fixture(scope="module")
def flame(flame_path):
    return load_flame(flame_path)


@pytest.fixture(scope="module")
def arkit_map(flame, head):
    return fit_arkit_map(flame, head)


def test_generated_file_has_flames_structure(flame_path, flame):
    from vasa3d.head.flame import read_flame_file

    d = read_flame_file(flame_path)
    assert d["v_template"].shape == (5023, 3) and d["shapedirs"].shape == (5023, 3, 400)
    assert d["posedirs"].shape == (5023, 3, 36) and d["J_regressor"].shape == (5, 5023)
    assert d["weights"].shape == (5023, 5) and d["kintree_table"].shape == (2, 5)
    assert flame.n_shape == 100 and flame.n_expression == 50 and flame.n_vertices == 5023
    cfg = flame.config()
    assert cfg == {"kind": "flame", "sha256": hashlib.sha256(flame_path.read_bytes()).hexdigest(),
                   "n_shape": 100, "n_expression": 50}


def test_landmarks_land_on_the_same_features(flame, head):
    # the generated template keeps the built-in vertices' indices, so landmark i's true vertex is i
    V = flame.v_template
    off = (V[flame.landmark_vertices] - V[:478]).norm(dim=-1)
    assert float(off.mean()) < 0.001 and float((off < 1e-6).float().mean()) > 0.8


def test_arkit_map_reproduces_the_built_in_shapes(arkit_map, flame, head):
    m = arkit_map
    assert m.matrix.shape == (52, 59)
    # rotations carried over exactly: jawOpen turns FLAME's jaw as far as the built-in head's
    jaw_open = ARKIT_INDEX["jawOpen"]
    assert torch.allclose(m.matrix[jaw_open, 50:53], head.expr_pose[jaw_open, 2])
    assert float(m.matrix[jaw_open, 50]) > 0.1
    # measured on this file: 0.125 over all shapes (0.36 with plain nearest-vertex landmarks, which put the
    # lower lip's landmarks on the upper lip where the closed lips touch)
    assert m.total_residual < 0.2
    mouth = [ARKIT_INDEX[n] for n in ("mouthSmileLeft", "mouthSmileRight", "mouthPucker", "mouthLeft", "mouthFunnel")]
    assert float(m.residual[mouth].max()) < 0.2
    # and it is a fit: the map's own FLAME landmarks for smile match the built-in head's smile
    smile = ARKIT_INDEX["mouthSmileLeft"]
    z = torch.zeros(2, 52)
    z[1, smile] = 1.0
    pf = params_from_latent(z, torch.zeros(2, 6), torch.zeros(1, flame.n_shape), m.matrix)
    lf = flame.landmarks(pf)
    pb = HeadParams.neutral(2, head)
    pb.expression[1, smile] = 1.0
    lb = head.landmarks(pb)
    moved_b = (lb[1] - lb[0]).norm(dim=-1)
    err = ((lf[1] - lf[0]) - (lb[1] - lb[0]) * 1.04).norm(dim=-1)
    assert float(moved_b.max()) > 0.003 and float(err.mean()) < 0.4 * float(moved_b.mean())


def test_arkit_map_is_exact_when_flame_can_express_arkit(tmp_path, head):
    """A FLAME file whose expression basis is the built-in head's ARKit fields and whose template is the
    built-in head's (scaled, so every landmark finds its own vertex): every shape without a rotation is
    reproduced (the fitting is right), the rotating ones up to their different jaw and eye pivots."""
    d = flame_file.flame_arrays(expression="arkit", warp_m=0.0)
    path = tmp_path / "arkit_flame.pkl"
    import pickle

    path.write_bytes(pickle.dumps(d, protocol=2))
    m = fit_arkit_map(load_flame(path, n_expression=52), head)
    still = [i for n, i in ARKIT_INDEX.items() if n not in ROTATING]
    assert float(np.max(m.residual[still])) < 0.06, np.round(m.residual, 3)


def test_flame_fit_in_the_built_in_camera(astronaut_analysis, astronaut_fit, head, flame_path):
    from vasa3d.head import avatar_head

    bound = avatar_head(astronaut_analysis.landmarks, head, astronaut_fit, {"kind": "flame"}, flame_path)
    assert bound.fit.camera is astronaut_fit.camera
    # the mean head alone is much worse
    assert bound.fit.landmark_error < 0.03, bound.fit.landmark_error
    neutral = bound.fit.params.replace(shape=torch.zeros_like(bound.fit.params.shape))
    uv = astronaut_fit.camera.project(bound.head.landmarks(neutral)[0])[0]
    from vasa3d.face import landmarks as L

    lm = astronaut_analysis.landmarks
    err0 = float((uv - torch.as_tensor(lm[:, :2], dtype=torch.float32)).norm(dim=-1).mean()) / L.inter_ocular(lm)
    assert bound.fit.landmark_error < 0.6 * err0
    # the portrait's ARKit expression, mapped: at the portrait's latent the avatar's head is the fitted one
    assert torch.allclose(bound.fit.params.expression, astronaut_fit.params.expression @ bound.latent_map[:, :50],
                          atol=1e-6)


def test_avatar_on_flame_round_trips_and_never_opens_a_recorded_path(flame, arkit_map, flame_path, tmp_path):
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.render.camera import Camera

    cam = Camera.look_at(torch.tensor([0.0, 0.0, 0.6]), torch.zeros(3), (0.0, 1.0, 0.0), 64, 64)
    av = GaussianAvatar(flame, AvatarConfig(num_gaussians=50, hidden=8), cam, 50, latent_map=arkit_map.matrix)
    z = torch.zeros(2, 52)
    z[1, ARKIT_INDEX["jawOpen"]] = 0.8
    with torch.no_grad():
        p = av.head_params(z, torch.zeros(2, 7))
    assert p.expression.shape == (2, 50) and float(p.jaw[1, 0]) == pytest.approx(0.8 * float(arkit_map.matrix[17, 50]))
    with pytest.raises(ValueError, match="latent_map"):
        GaussianAvatar(flame, AvatarConfig(num_gaussians=50, hidden=8), cam, 50)
    config, tensors = av.export()
    assert config["head"]["sha256"] == hashlib.sha256(flame_path.read_bytes()).hexdigest()
    assert str(flame_path) not in repr(config) and "path" not in config["head"]
    back = GaussianAvatar.from_export(config, tensors, head_model=flame_path)
    assert torch.equal(back.latent_map, av.latent_map)
    with pytest.raises(MissingAssetError, match="--head-model"):
        GaussianAvatar.from_export(config, tensors)
    other = tmp_path / "other.pkl"
    other.write_bytes(flame_path.read_bytes() + b"\0")  # the same arrays (pickle stops at STOP), another file
    with pytest.raises(InputError, match="not the FLAME model"):
        GaussianAvatar.from_export(config, tensors, head_model=other)
    # a record naming a path (a stranger's file) is refused before anything is opened
    for record in ({**config["head"], "path": str(flame_path)}, {"kind": "flame", "path": str(flame_path)},
                   {**config["head"], "n_shape": 10**9}, {**config["head"], "sha256": "../../etc/passwd"}):
        with pytest.raises(InputError):
            build_head(record, None)
        with pytest.raises(InputError):
            build_head(record, flame_path)
