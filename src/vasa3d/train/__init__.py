"""Training an avatar on a frame dataset: losses, trainer, checkpoints (paper, section 3.3)."""

from .checkpoint import CheckpointError
from .config import PRESETS, TrainConfig
from .trainer import Trainer

__all__ = ["CheckpointError", "PRESETS", "TrainConfig", "Trainer"]
