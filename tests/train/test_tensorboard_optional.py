"""TensorBoard is an extra: without it the trainer trains, writes no event files and says so once."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

from vasa3d.train.trainer import Trainer


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_no_tensorboard_means_no_writer_and_one_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # its import raises ImportError
    trainer = SimpleNamespace(_writer=None, log_dir=tmp_path, rank=0, _tensorboard_missing=False)
    logger, handler = logging.getLogger("vasa3d"), _Lines()
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(handler)
    try:
        assert Trainer._tb(trainer) is None
        assert Trainer._tb(trainer) is None
    finally:
        logger.removeHandler(handler)
    lines = [line for line in handler.lines if "TensorBoard" in line]
    assert len(lines) == 1 and "vasa3d[tensorboard]" in lines[0]
    assert not (tmp_path / "tensorboard").exists()
