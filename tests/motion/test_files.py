"""Motion files from strangers: sizes are bounded before anything large is allocated."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from vasa3d.errors import InputError
from vasa3d.motion import MotionLatent
from vasa3d.motion import latent as latent_module
from vasa3d.motion.files import MAX_JSON_MOTION_BYTES, read_motion
from vasa3d.motion.latent import MAX_DYN_COLUMNS, MAX_MOTION_FRAMES


def _talking(frames: int, seed: int = 0) -> MotionLatent:
    """A plausible ARKit motion: smooth weights in [0, 1] and a head that turns a little."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 60.0
    phase = rng.uniform(0, 2 * np.pi, (1, 52))
    z_dyn = (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t + phase)).astype(np.float32)
    z_pose = np.zeros((frames, 7), np.float32)
    z_pose[:, 1] = 0.2 * np.sin(2 * np.pi * 0.1 * t[:, 0])
    return MotionLatent(z_dyn, z_pose, fps=60.0)


def _bomb_npz(path, frames: int, dyn: int, pose: int = 7) -> None:
    """An .npz of zeros (deflate shrinks them about 1,000 times) whose arrays claim the given sizes."""
    meta = np.frombuffer(json.dumps({"fps": 25.0, "schema": "arkit52+pose", "dyn_names": [f"d{i}" for i in range(dyn)],
                                     "pose_names": [f"p{i}" for i in range(pose)]}).encode(), np.uint8)
    np.savez_compressed(path, z_dyn=np.zeros((frames, dyn), np.float32), z_pose=np.zeros((frames, pose), np.float32),
                        meta=meta)


@pytest.mark.parametrize("frames, dyn", [(MAX_MOTION_FRAMES + 1, 1), (10, MAX_DYN_COLUMNS + 1)],
                         ids=["frames", "columns"])
def test_a_compressed_npz_that_would_unpack_too_large_is_refused_unread(tmp_path, monkeypatch, frames, dyn):
    path = tmp_path / "motion.npz"
    _bomb_npz(path, frames, dyn)
    assert path.stat().st_size < 4 << 20  # a few MB on disk

    def never(*args, **kwargs):
        raise AssertionError("np.load was called on a file whose sizes are over the limit")

    monkeypatch.setattr(np, "load", never)
    with pytest.raises(InputError, match=f"at most {MAX_MOTION_FRAMES:,} frames") as info:
        read_motion(path)
    assert "\n" not in str(info.value)
    # just under the limits it loads
    monkeypatch.undo()
    ok = tmp_path / "ok.npz"
    _bomb_npz(ok, 1000, 52)
    assert len(read_motion(ok)) == 1000


def test_a_csv_is_read_row_by_row_in_memory_that_follows_its_frames(tmp_path):
    """The face-capture CSV used to be held whole as Python lists of strings (about 14 times its size: 3.2 GB
    for a 227 MB file); now one float array of its frames is filled row by row."""
    motion = _talking(30_000)
    path = tmp_path / "face.csv"
    motion.save_arkit_csv(path)
    text_bytes = path.stat().st_size
    tracemalloc.start()
    try:
        back = MotionLatent.load_arkit_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * text_bytes, (peak, text_bytes)
    assert back.fps == 60 and len(back) == len(motion)
    np.testing.assert_allclose(back.z_dyn, motion.z_dyn, atol=1e-6)
    np.testing.assert_allclose(back.z_pose[:, :3], motion.z_pose[:, :3], atol=1e-5)


def test_a_csv_with_too_many_rows_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "face.csv"
    _talking(120).save_arkit_csv(path)
    monkeypatch.setattr(latent_module, "MAX_MOTION_FRAMES", 100)
    with pytest.raises(InputError, match="more than 100 frames"):
        read_motion(path)
    monkeypatch.setattr(latent_module, "MAX_MOTION_FRAMES", 120)
    assert len(read_motion(path)) == 120


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_a_csv_with_old_line_ends_reads_the_same(tmp_path, ending):
    path = tmp_path / "face.csv"
    motion = _talking(50)
    motion.save_arkit_csv(path)
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes().replace(b"\n", ending.encode()).rstrip(ending.encode()))
    a, b = MotionLatent.load_arkit_csv(path), MotionLatent.load_arkit_csv(other)
    assert len(b) == 50
    np.testing.assert_array_equal(a.z_dyn, b.z_dyn)
    np.testing.assert_array_equal(a.z_pose, b.z_pose)


def test_a_json_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "face.json"
    with open(path, "wb") as f:  # sparse: nothing is written, the size is what counts
        f.truncate(MAX_JSON_MOTION_BYTES + 1)

    def never(*args, **kwargs):
        raise AssertionError("the JSON was read")

    monkeypatch.setattr("vasa3d.head.arkit_io.read_arkit", never)
    with pytest.raises(InputError, match="at most 64 MiB"):
        read_motion(path)


def test_a_json_with_too_many_frames_is_refused_before_its_arrays(tmp_path, monkeypatch):
    """A JSON list of empty frames takes 3 bytes a frame: 22 million under the size limit, each 52 zeros."""
    path = tmp_path / "face.json"
    path.write_text("[" + ",".join(["{}"] * 120) + "]")
    monkeypatch.setattr(latent_module, "MAX_MOTION_FRAMES", 100)

    def never(*args, **kwargs):
        raise AssertionError("the frames were built")

    monkeypatch.setattr("vasa3d.head.arkit_io.np.array", never)
    with pytest.raises(InputError, match="holds 120 frames; a motion file may hold at most 100"):
        read_motion(path)
    monkeypatch.undo()  # numpy back, and the real limit
    assert len(read_motion(path)) == 120
