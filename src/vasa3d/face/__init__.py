"""Face detection, 478 landmarks, segmentation, crop/align and video tracking."""

from vasa3d.face.portrait import PortraitAnalysis, analyze_portrait, detect_landmarks
from vasa3d.face.track import TrackConfig, TrackResult, track_video, track_video_detailed

__all__ = ["PortraitAnalysis", "TrackConfig", "TrackResult", "analyze_portrait", "detect_landmarks", "track_video",
           "track_video_detailed"]
