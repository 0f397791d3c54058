"""Building datasets with the animator: parallel, resumable after a kill, deterministic."""

import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest
import torch

from vasa3d.animate import FrameDataset, random_motion, synthesize_dataset
from vasa3d.render.camera import Camera


def _small_camera(camera: Camera, size: int) -> Camera:
    K = camera.K.clone()
    K[:2] *= size / camera.width
    return Camera(K, camera.world_to_cam.clone(), size, size)


class _Paced:
    """The same animator, at least 25 ms a frame: on a fast idle machine the whole
    build would otherwise finish before the test gets to kill it."""

    def __init__(self, animator):
        self._animator = animator

    def __call__(self, *args):
        time.sleep(0.025)
        return self._animator(*args)

    def __getattr__(self, name):
        if name.startswith("__") or name == "_animator":  # while unpickling, before _animator is set
            raise AttributeError(name)
        return getattr(self._animator, name)


def _build_in_own_group(animator, motion, camera, root):
    os.setpgrp()  # so that the test can kill the build and its workers at once
    torch.set_num_threads(1)  # OpenMP threads do not survive a fork
    synthesize_dataset(_Paced(animator), motion, camera, root, seed=7, workers=2, quiet=True, shard_size=8)


def _files(root):
    names = ["manifest.json", "plan.npz"] + sorted(f"shards/{p.name}" for p in (root / "shards").iterdir())
    return {n: (root / n).read_bytes() for n in names}


def test_killed_build_resumes_to_identical_dataset(animator, tmp_path):
    motion = random_motion(96, seed=3)
    camera = _small_camera(animator.camera, 192)
    ref = synthesize_dataset(animator, motion, camera, tmp_path / "ref", seed=7, workers=1, quiet=True, shard_size=8)
    assert len(ref) == 96 and len(ref.test_indices) > 0

    rng = np.random.default_rng(int(time.time()))
    child = mp.get_context("fork").Process(target=_build_in_own_group,
                                           args=(animator, motion, camera, tmp_path / "killed"))
    child.start()
    shards = tmp_path / "killed" / "shards"
    want = int(rng.integers(1, 9))  # kill after a random number of finished shards (of 12)
    deadline = time.time() + 60
    while time.time() < deadline and (not shards.exists() or len(list(shards.glob("*.npz"))) < want):
        time.sleep(0.01)
    time.sleep(float(rng.uniform(0, 0.2)))
    os.killpg(child.pid, signal.SIGKILL)
    child.join()
    time.sleep(0.2)
    done = len(list(shards.glob("*.npz")))
    assert 0 < done < 12, done  # it really was interrupted (and the workers did work)
    with pytest.raises(Exception, match="incomplete"):
        FrameDataset(tmp_path / "killed")

    resumed = synthesize_dataset(animator, motion, camera, tmp_path / "killed", seed=7, workers=2, quiet=True,
                                 shard_size=8)
    assert _files(tmp_path / "killed") == _files(tmp_path / "ref")
    s = resumed[50]
    assert s.image.shape == (192, 192, 3) and s.camera.width == 192
    torch.testing.assert_close(s.z_pose, torch.from_numpy(motion.z_pose[50]))
    rgb, mask = animator(motion.z_dyn[50], motion.z_pose[50], camera)
    assert np.array_equal((s.image.numpy() * 255).round().astype(np.uint8), rgb)


_SERIAL_THEN_FORK = """
import multiprocessing as mp, sys, numpy as np
from numba.np.ufunc import parallel
from vasa3d.animate import raster
rng = np.random.default_rng(0)
uv, z, faces = rng.uniform(-8, 72, (180, 2)), rng.uniform(0.5, 3.0, 180), np.arange(180).reshape(-1, 3)
if sys.argv[1] == "parallel":
    raster.rasterize_mesh(uv, z, faces, 64, 48, parallel=True)
    sys.exit()
raster.rasterize_mesh(uv, z, faces, 64, 48)  # as synthesize_dataset's frame(0), before the workers fork
print("threads", parallel._is_initialized)
with mp.get_context("fork").Pool(2) as pool:
    print("covered", pool.starmap_async(raster.rasterize_mesh, [(uv, z, faces, 64, 48)] * 2).get(30)[0].covered.sum())
"""


def test_forked_workers_run_the_serial_mesh_kernel_whatever_the_cache_holds(tmp_path):
    """numba names a cache entry after the function and its signature, not its flags: when the serial and the
    parallel mesh rasterizer were one function jitted twice, the serial one loaded the parallel code once that
    had been compiled first, and the dataset workers forked after it died in GNU OpenMP ("the forked build
    never starts")."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    first = subprocess.run([sys.executable, "-c", _SERIAL_THEN_FORK, "parallel"], env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-500:]
    run = subprocess.run([sys.executable, "-c", _SERIAL_THEN_FORK, "serial"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-500:]
    assert "threads False" in run.stdout  # no OpenMP in the process that forks
    assert run.stdout.split()[-1] == "2899", run.stdout  # the workers rasterized
