"""Portrait animators and the frame-dataset format they fill."""

from vasa3d.animate.dataset import DatasetPlan, FrameDataset, FrameSample, write_dataset

__all__ = ["DatasetPlan", "FrameDataset", "FrameSample", "write_dataset"]
