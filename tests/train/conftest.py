import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "gaussians"))
sys.path.insert(0, str(Path(__file__).parent))
import fake_head  # noqa: E402
import scenes  # noqa: E402,F401  (tests/train/scenes.py)


@pytest.fixture
def head(monkeypatch):
    fake_head.install(monkeypatch)
    return fake_head.EllipsoidHead()
