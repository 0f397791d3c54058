"""Portrait animators and the frame-dataset format they fill.

``MeshWarpAnimator`` (the default :class:`Animator`) re-renders the fitted
portrait with any motion latent and camera; ``synthesize_dataset`` drives it
over a motion sequence into a :class:`FrameDataset` folder; ``import_frames``
and ``dataset_from_video`` make the same kind of folder from another
generator's frames or from a real video.
"""

from vasa3d.animate.animator import ANIMATORS, Animator, make_animator
from vasa3d.animate.dataset import DatasetPlan, FrameDataset, FrameSample, write_dataset
from vasa3d.animate.importer import dataset_from_video, import_frames
from vasa3d.animate.meshwarp import MeshWarpAnimator, MeshWarpConfig
from vasa3d.animate.random_motion import RandomMotionConfig, random_motion
from vasa3d.animate.synthesize import synthesize_dataset
from vasa3d.animate.talking_motion import mixed_motion, talking_motion

__all__ = [
    "ANIMATORS", "Animator", "DatasetPlan", "FrameDataset", "FrameSample", "MeshWarpAnimator", "MeshWarpConfig",
    "RandomMotionConfig", "dataset_from_video", "import_frames", "make_animator", "mixed_motion", "random_motion",
    "synthesize_dataset", "talking_motion", "write_dataset",
]
