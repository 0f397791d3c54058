"""The Python API: ``import vasa3d`` is light, the names load lazily, docs/api.md's example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

DOC = Path(__file__).parent.parent / "docs" / "api.md"


def test_import_is_light_and_names_resolve():
    code = ("import sys, vasa3d; heavy = [m for m in ('torch', 'mediapipe', 'numba', 'cv2') if m in sys.modules]; "
            "print(heavy); print(callable(vasa3d.render), callable(vasa3d.create), callable(vasa3d.load_avatar))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True True True"


def test_py_typed_marker_ships():
    import vasa3d

    assert (Path(vasa3d.__file__).parent / "py.typed").is_file()


def test_the_documented_example_runs(astronaut_avatar, tmp_path, caplog):
    import logging

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    namespace = {"avatar_path": str(astronaut_avatar), "out_dir": str(tmp_path)}
    with caplog.at_level(logging.INFO, logger="vasa3d"):
        exec(compile(blocks[0], str(DOC), "exec"), namespace)
    from vasa3d.io import probe_video
    from vasa3d.io.alpha_video import read_webm_alpha
    from vasa3d.render import load_ply

    assert probe_video(tmp_path / "nod.mp4")["video"]["frames"] == 25
    alpha = read_webm_alpha(tmp_path / "nod.webm")[0][..., 3]
    assert alpha.min() < 10 and alpha.max() > 245
    assert len(load_ply(tmp_path / "open.ply")) == 10_000
    assert any("Gaussians ->" in r.getMessage() for r in caplog.records)  # export reports through logging
    assert np.isfinite(namespace["motion"].z_pose).all()
