"""Real-time sessions: audio or text chunks in, timestamped frames with their audio out (paper, Sec. 4).

:class:`LiveSession` joins the streaming motion generator, the avatar's deformation and the
rasterizer on a real-time clock, with idle life, barge-in, live controls and graceful
degradation; see docs/live.md.
"""

from .config import LiveConfig, LiveControls
from .session import LiveFrame, LiveSession

__all__ = ["LiveConfig", "LiveControls", "LiveFrame", "LiveSession"]
