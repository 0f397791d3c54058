"""``vasa3d export``: standard 3DGS PLY files that a third-party reader accepts and that re-render exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vasa3d.cli import main
from vasa3d.io import load_avatar
from vasa3d.motion.latent import MotionLatent
from vasa3d.render import load_ply, rasterize

plyfile = pytest.importorskip("plyfile")

STANDARD = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def _motion(path, T=12):
    m = MotionLatent.neutral(T)
    m.z_dyn[:, m.dyn_names.index("jawOpen")] = np.linspace(0, 0.8, T)
    m.z_pose[:, 1] = np.linspace(-0.3, 0.3, T)  # yaw
    m.save(path)
    return m


def _front(avatar, size=128):
    from vasa3d.pipeline import view_camera

    return view_camera(avatar.camera, avatar.head_center.reshape(3), 0.0, 0.0, size)


def test_neutral_ply_has_the_standard_layout_and_the_avatars_values(astronaut_avatar, tmp_path):
    out = tmp_path / "head.ply"
    assert main(["export", str(astronaut_avatar), "-o", str(out), "-q"]) == 0
    ply = plyfile.PlyData.read(str(out))
    v = ply["vertex"]
    names = [p.name for p in v.properties]
    assert names == STANDARD[:9] + STANDARD[9:]  # degree 0: no f_rest
    assert all(p.val_dtype in ("f4", "float32", "<f4") for p in v.properties)
    avatar = load_avatar(astronaut_avatar)
    with torch.no_grad():
        g = avatar(torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim))[0]
    assert v.count == len(g) == 10_000
    means = np.stack([v["x"], v["y"], v["z"]], 1)
    np.testing.assert_array_equal(means, g.means.numpy())
    np.testing.assert_array_equal(np.stack([v[f"rot_{i}"] for i in range(4)], 1), g.quats.numpy())
    np.testing.assert_array_equal(np.stack([v[f"scale_{i}"] for i in range(3)], 1), g.log_scales.numpy())
    np.testing.assert_array_equal(v["opacity"], g.opacity_logits.numpy())
    np.testing.assert_array_equal(np.stack([v[f"f_dc_{i}"] for i in range(3)], 1), g.sh[:, 0].numpy())
    assert np.all(v["nx"] == 0)
    # the head is ~0.2 m across in the world frame, opacities are logits, scales natural logs
    assert 0.1 < np.ptp(means[:, 0]) < 0.4 and v["scale_0"].max() < 0


def test_posed_frame_rerenders_within_1e5(astronaut_avatar, tmp_path):
    motion = _motion(tmp_path / "m.npz")
    out = tmp_path / "f7.ply"
    assert main(["export", str(astronaut_avatar), "-o", str(out), "--motion", str(tmp_path / "m.npz"),
                 "--frame", "7", "-q"]) == 0
    avatar = load_avatar(astronaut_avatar)
    cam = _front(avatar)
    with torch.no_grad():
        g = avatar(torch.from_numpy(motion.z_dyn[7:8]), torch.from_numpy(motion.z_pose[7:8]))[0]
        ref = rasterize(g, cam, 128, 128)
        back = rasterize(load_ply(out), cam, 128, 128)
    assert float((ref.color - back.color).abs().max()) <= 1e-5
    assert float((ref.alpha - back.alpha).abs().max()) <= 1e-5
    assert float(ref.alpha.mean()) > 0.2  # the head fills the view
    posed = plyfile.PlyData.read(str(out))["vertex"]
    with torch.no_grad():
        rest = avatar(torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim))[0]
    assert np.abs(posed["x"] - rest.means[:, 0].numpy()).mean() > 0.003  # posed: turned by 0.05 rad, jaw open


def test_every_nth_frame_into_a_folder(astronaut_avatar, tmp_path):
    motion = _motion(tmp_path / "m.npz")
    out = tmp_path / "seq"
    assert main(["export", str(astronaut_avatar), "-o", str(out), "--motion", str(tmp_path / "m.npz"),
                 "--every", "5", "-q"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["frame_00000.ply", "frame_00005.ply", "frame_00010.ply"]
    x0 = plyfile.PlyData.read(str(out / "frame_00000.ply"))["vertex"]["x"]
    x10 = plyfile.PlyData.read(str(out / "frame_00010.ply"))["vertex"]["x"]
    # the head turned 0.5 rad between the two: its Gaussians moved by centimetres
    assert np.abs(x10 - x0).mean() > 0.01
    assert len(motion) == 12


@pytest.mark.parametrize("args, message", [
    (["--frame", "3"], "add --motion"),
    (["--every", "0", "--motion", "M"], "--every 0"),
    (["--frame", "99", "--motion", "M"], "outside the motion"),
    (["--frame", "1", "--every", "2", "--motion", "M"], "not both"),
])
def test_bad_export_flags_are_one_line(astronaut_avatar, tmp_path, capsys, args, message):
    _motion(tmp_path / "m.npz")
    args = [str(tmp_path / "m.npz") if a == "M" else a for a in args]
    out = tmp_path / ("seq" if "--every" in args else "x.ply")
    assert main(["export", str(astronaut_avatar), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()
