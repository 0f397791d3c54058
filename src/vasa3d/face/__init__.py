"""Face detection, 478 landmarks, segmentation, crop/align and video tracking."""

from vasa3d.face.portrait import PortraitAnalysis, analyze_portrait, detect_landmarks

__all__ = ["PortraitAnalysis", "analyze_portrait", "detect_landmarks"]
