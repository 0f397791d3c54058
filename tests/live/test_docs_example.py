"""docs/live.md's Python example runs as written, in real time, and the avatar speaks the stream."""

import re
from pathlib import Path

import numpy as np
import pytest

from vasa3d.arkit import ARKIT_INDEX

DOC = Path(__file__).parent.parent.parent / "docs" / "live.md"


@pytest.mark.realtime  # make test runs it alone, after the tests that run two at a time
def test_the_documented_tts_stream_example_runs(small_avatar, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    namespace = {"avatar_path": str(small_avatar)}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    frames = namespace["frames"]
    assert len(frames) == 150
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + 150))
    assert all(f.image.shape == (256, 256, 3) and f.audio.shape == (1920,) for f in frames)
    # the streamed sentence is heard, and the mouth moves while it is
    loud = np.array([np.sqrt(np.mean(f.audio ** 2)) for f in frames])
    jaw = np.array([f.z_dyn[ARKIT_INDEX["jawOpen"]] for f in frames])
    assert (loud > 0.02).sum() >= 25
    assert jaw[loud > 0.02].mean() > 3 * jaw[loud < 1e-4].mean() + 0.05
    assert namespace["stats"]["latency_ms"]["median"] is not None
    assert "fps, latency" in capsys.readouterr().out
