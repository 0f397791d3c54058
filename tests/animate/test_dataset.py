import json
import zipfile

import numpy as np
import pytest

from vasa3d.animate.dataset import DatasetPlan, FrameDataset, split_indices, write_dataset
from vasa3d.errors import InputError
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera


def _plan(n=70, seed=3, size=24):
    rng = np.random.default_rng(0)
    motion = MotionLatent(rng.uniform(0, 1, (n, 52)), rng.normal(0, 0.1, (n, 7)))
    cams = [Camera.orbit(yaw_deg=float(y), width=size, height=size) for y in np.linspace(-40, 40, n)]
    return DatasetPlan(motion, Camera.stack(cams), seed=seed, shard_size=16, test_fraction=0.2,
                       source={"kind": "test-pattern"})


def _pattern(plan):
    H, W = plan.cameras.height, plan.cameras.width

    def source(i):
        rng = np.random.default_rng(1000 + i)
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        mask = (np.arange(W)[None, :] < (i % W)).repeat(H, 0).astype(np.float32)
        return rgb, mask
    return source


def test_roundtrip_split_and_manifest(tmp_path):
    plan = _plan()
    ds = write_dataset(tmp_path / "ds", plan, _pattern(plan), quiet=True)
    assert len(ds) == 70 and ds.manifest["complete"] and ds.manifest["shards"] == 5
    assert sorted(ds.train_indices.tolist() + ds.test_indices.tolist()) == list(range(70))
    assert 0 < len(ds.test_indices) < 35
    s = ds[37]
    rgb, mask = _pattern(plan)(37)
    np.testing.assert_array_equal((s.image.numpy() * 255).round().astype(np.uint8), rgb)
    assert s.mask.shape == (24, 24, 1) and float(s.mask.sum()) == 24 * (37 % 24)
    np.testing.assert_allclose(s.z_dyn.numpy(), plan.motion.z_dyn[37])
    np.testing.assert_allclose(s.camera.world_to_cam.numpy(), plan.cameras.world_to_cam[37].numpy())
    assert s.camera.width == 24
    np.testing.assert_allclose(ds.motion.z_pose, plan.motion.z_pose)
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["latent"]["schema"] == "arkit52+pose" and manifest["fps"] == 25
    # the split is a function of the seed
    assert np.array_equal(split_indices(70, 3, 0.2), ds.test_indices)
    assert not np.array_equal(split_indices(1000, 3, 0.2), split_indices(1000, 4, 0.2))


def test_workers_and_resume_give_identical_bytes(tmp_path):
    plan = _plan()
    write_dataset(tmp_path / "a", plan, _pattern(plan), quiet=True)
    write_dataset(tmp_path / "b", plan, _pattern(plan), workers=2, quiet=True)
    # an interrupted build: two shards lost, one half-written temp file left behind
    write_dataset(tmp_path / "c", plan, _pattern(plan), quiet=True)
    (tmp_path / "c" / "shards" / "000001.npz").unlink()
    (tmp_path / "c" / "shards" / "000004.npz").unlink()
    (tmp_path / "c" / "shards" / "000004.npz.part99").write_bytes(b"half")
    write_dataset(tmp_path / "c", plan, _pattern(plan), quiet=True)
    for name in ["manifest.json", "plan.npz"] + [f"shards/{s:06d}.npz" for s in range(5)]:
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a == (tmp_path / "c" / name).read_bytes(), name
    assert not list((tmp_path / "c" / "shards").glob("*.part*"))


def test_bad_datasets_are_refused_with_one_line(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        FrameDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no manifest"):
        FrameDataset(tmp_path / "empty")
    plan = _plan(20)
    write_dataset(tmp_path / "ds", plan, _pattern(plan), quiet=True)
    # a different plan into the same folder is refused
    with pytest.raises(InputError, match="different dataset"):
        other = _plan(20, seed=9)
        write_dataset(tmp_path / "ds", other, _pattern(other), quiet=True)
    shard = tmp_path / "ds" / "shards" / "000000.npz"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:1000])
    with pytest.raises(InputError, match="corrupt"):  # found when the folder is opened, before any work
        FrameDataset(tmp_path / "ds")
    shard.write_bytes(whole)
    manifest = tmp_path / "ds" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["complete"] = False
    manifest.write_text(json.dumps(m))
    with pytest.raises(InputError, match="incomplete"):
        FrameDataset(tmp_path / "ds")
    manifest.write_text("{not json")
    with pytest.raises(InputError, match="corrupt"):
        FrameDataset(tmp_path / "ds")


def test_shards_are_plain_npz_without_pickles(tmp_path):
    plan = _plan(20)
    write_dataset(tmp_path / "ds", plan, _pattern(plan), quiet=True)
    with zipfile.ZipFile(tmp_path / "ds" / "shards" / "000000.npz") as zf:
        assert sorted(zf.namelist()) == sorted(
            f"{k}.npy" for k in ["rgb", "mask", "z_dyn", "z_pose", "K", "world_to_cam", "index"])
    with np.load(tmp_path / "ds" / "shards" / "000001.npz", allow_pickle=False) as d:
        assert d["rgb"].shape == (4, 24, 24, 3) and d["index"].tolist() == [16, 17, 18, 19]
