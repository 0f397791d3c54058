"""Motion: the motion latent x = [z_dyn, z_pose] (paper, section 3.1) and speech -> motion generators."""

from vasa3d.motion.config import EMOTIONS, MotionConfig
from vasa3d.motion.generate import GENERATORS, Audio2Motion, MotionStream, audio_to_motion, open_stream
from vasa3d.motion.latent import DEFAULT_SCHEMA, POSE_NAMES, MotionLatent

__all__ = ["DEFAULT_SCHEMA", "EMOTIONS", "GENERATORS", "POSE_NAMES", "Audio2Motion", "MotionConfig", "MotionLatent",
           "MotionStream", "audio_to_motion", "open_stream"]
