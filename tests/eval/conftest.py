import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "gaussians"))
sys.path.insert(0, str(Path(__file__).parent.parent / "train"))
import fake_head  # noqa: E402


@pytest.fixture
def head(monkeypatch):
    fake_head.install(monkeypatch)
    return fake_head.EllipsoidHead()
