"""Worker pools (animate/workers.py): a script without a main guard, sources from ``__main__``, no hang."""

import os
import subprocess
import sys
import textwrap

from vasa3d.animate.workers import can_send

_BUILD = textwrap.dedent("""
    import os, sys, numpy as np, torch
    from vasa3d.animate.dataset import DatasetPlan, FrameDataset, write_dataset
    from vasa3d.animate.random_motion import random_motion
    from vasa3d.animate.workers import can_send
    from vasa3d.render.camera import Camera
    sys.path.insert(0, {here!r})
    from test_workers import Gradient

    class MainGradient(Gradient):  # defined in the script itself
        pass

    K = torch.tensor([[30.0, 0, 16], [0, 30, 16], [0, 0, 1]])
    plan = DatasetPlan(random_motion(24, seed=1), Camera(K, torch.eye(4), 32, 32), seed=0, shard_size=4)
    for kind, source in (("module", Gradient()), ("main", MainGradient())):
        print(kind, "sent to workers", can_send(source))
        write_dataset(os.path.join(sys.argv[1], kind), plan, source, workers=2, quiet=True)
        ds = FrameDataset(os.path.join(sys.argv[1], kind))
        print(kind, "frames", len(ds), "value", int((ds[13].image * 255).round()[0, 0, 0]))
""")  # no `if __name__ == "__main__":` on purpose: users' scripts often have none


class Gradient:
    """A frame source in an importable module: frame i is grey level i."""

    def __call__(self, i):
        import numpy as np

        return np.full((32, 32, 3), i, np.uint8), np.full((32, 32), 255, np.uint8)


def test_a_script_without_a_main_guard_builds_with_workers(tmp_path):
    here = os.path.dirname(__file__)
    script = tmp_path / "build.py"
    script.write_text(_BUILD.format(here=here))
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-800:]
    assert "RuntimeError" not in run.stderr, run.stderr[-800:]
    # the script ran once (its workers did not import it); a source from the script itself is built in-process
    assert run.stdout.count("sent to workers") == 2, run.stdout
    assert "module sent to workers True" in run.stdout and "main sent to workers False" in run.stdout
    for kind in ("module", "main"):
        assert f"{kind} frames 24 value 13" in run.stdout, run.stdout


def test_can_send():
    assert can_send(Gradient())
    assert not can_send(lambda i: i)  # a closure does not pickle
