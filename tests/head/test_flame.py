"""The FLAME adapter on a synthetic file in FLAME's format, and the restricted unpickler."""

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from vasa3d.errors import InputError, MissingAssetError
from vasa3d.head import HeadParams, build_head
from vasa3d.head.flame import load_flame, read_flame_file

OFFSET = np.array([0.0, -0.02, 0.03])  # FLAME's origin is not the head centre


@pytest.fixture
def fake_chumpy(monkeypatch):
    """A module named chumpy.ch with a Ch class, so pickles reference chumpy like FLAME 2020's."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    mod.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", mod)
    return Ch


def _flame_dict(head, Ch):
    a = {k: v for k, v in __import__("vasa3d.head.builtin", fromlist=["x"]).build_builtin_arrays().items()}
    V = a["v_template"] + OFFSET
    n = len(V)
    rng = np.random.default_rng(0)
    shapedirs = np.concatenate([a["shapedirs"][:, :, :10], a["exprdirs"][:, :, [17, 0, 23, 24, 41, 43, 46, 1, 2, 3]]], 2)
    W = a["lbs_weights"][:, [0, 1, 2, 4, 3]]  # FLAME order here: root, neck, jaw, left eye, right eye
    rows = []
    for j in (0, 1, 2, 4, 3):
        if j >= 3:  # eyes: the eyeball's vertex mean is its centre
            near = a["eyeball_right" if j == 3 else "eyeball_left"]
        else:
            near = np.argsort(np.linalg.norm(a["v_template"] - a["joints"][j], axis=1))[:4]
        r = np.zeros(n)
        r[near] = 1.0 / len(near)
        rows.append(r)
    J_reg = sp.csc_matrix(np.stack(rows))
    return {
        "v_template": Ch(V), "f": a["faces"].astype(np.uint32), "shapedirs": Ch(shapedirs),
        "posedirs": 1e-4 * rng.standard_normal((n, 3, 36)), "J_regressor": J_reg, "weights": W,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "J": J_reg @ V, "bs_style": "lbs", "bs_type": "lrotmin",
    }


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_synthetic_flame_file_loads(tmp_path, fake_chumpy, head, protocol):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(_flame_dict(head, fake_chumpy), protocol=protocol))
    d = read_flame_file(path)
    assert d["v_template"].shape == (head.n_vertices, 3) and d["J_regressor"].shape == (5, head.n_vertices)
    flame = load_flame(path, n_shape=10, n_expression=10)
    assert flame.n_shape == 10 and flame.n_expression == 10 and flame.n_vertices == head.n_vertices
    assert flame.config()["kind"] == "flame"
    # re-centred onto the head centre: the landmarks land where the built-in head's are (within 5 mm)
    lm_f = flame.landmarks(HeadParams.neutral(1, flame))[0]
    lm_b = head.landmarks(HeadParams.neutral(1, head))[0]
    assert (lm_f - lm_b).norm(dim=-1).mean() < 0.005
    # regions transferred
    assert (flame.vertex_regions == head.vertex_regions).float().mean() > 0.95
    # jaw rotation opens the mouth; eyes rotate the right eyeball for eyes[:, 0]
    p = HeadParams.neutral(2, flame)
    p.jaw[1, 0] = 0.3
    v = flame(p)
    moved = (v[1] - v[0]).norm(dim=-1)
    assert moved[152] > 0.01 and moved[10] < 0.002
    p = HeadParams.neutral(2, flame)
    p.eyes[1, 0] = torch.tensor([0.0, 0.4, 0.0])
    v = flame(p)
    d_iris = (v[1, flame.landmark_vertices] - v[0, flame.landmark_vertices]).norm(dim=-1)
    assert d_iris[468] > 0.002 and d_iris[473] < 1e-3
    # the expression basis is FLAME's (column 0 = our jawOpen-free shapes), and gradients flow
    p = HeadParams.neutral(1, flame)
    p.expression.requires_grad_(True)
    flame(p).sum().backward()
    assert p.expression.grad.abs().sum() > 0
    # the config builds the same model again
    again = build_head(flame.config(), path)
    assert torch.allclose(again.v_template, flame.v_template)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", ["system", "eval", "nested"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, payload):
    marker = tmp_path / "pwned"
    evil = {"system": _Evil(marker), "eval": _EvalEvil(), "nested": {"v_template": [_Evil(marker)]}}[payload]
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(InputError) as e:
        read_flame_file(path)
    assert "refused" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


def test_not_a_flame_model(tmp_path):
    p = tmp_path / "other.pkl"
    p.write_bytes(pickle.dumps({"weights": np.zeros((3, 5))}))
    with pytest.raises(InputError, match="missing"):
        read_flame_file(p)
    p.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(InputError):
        read_flame_file(p)
    p.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InputError, match="not a FLAME"):
        read_flame_file(p)
    with pytest.raises(MissingAssetError):
        read_flame_file(tmp_path / "missing.pkl")
