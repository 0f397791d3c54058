"""Settings of ``vasa3d serve``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

#: upload caps, checked before any work starts
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
MAX_AUDIO_BYTES = 100 * 1024 * 1024
MAX_AUDIO_SECONDS = 600.0
MAX_TEXT_CHARS = 2000


@dataclass
class ServeConfig:
    """Settings of ``vasa3d serve``."""

    avatars: str = "avatars"
    """Folder of .vasa3d avatars: the list on the page; new avatars are written here."""
    jobs: str = ""
    """Folder for creation jobs and session recordings (default: AVATARS/.jobs)."""
    host: str = "127.0.0.1"
    """Address to listen on; any address but loopback requires the token on every request."""
    port: int = 8000
    """Port to listen on."""
    token: str = ""
    """Access token (default on a non-loopback address: a new random one, printed at start)."""
    max_sessions: int = 0
    """Live sessions at once (0: 2 on a CPU, 4 on a GPU); the next one gets a 'busy' reply."""
    size: int = 384
    """Live video size in pixels (width = height)."""
    idle_timeout: float = 60.0
    """Seconds a live session may go without a connected client before it is closed."""
    create_frames: int = 0
    """Synthetic frames for every creation job (0: the preset's); for tests and quick trials."""
    create_iterations: int = 0
    """Training iterations for every creation job (0: the preset's); for tests and quick trials."""

    @property
    def avatars_dir(self) -> Path:
        return Path(self.avatars).resolve()

    @property
    def jobs_dir(self) -> Path:
        return Path(self.jobs).resolve() if self.jobs else self.avatars_dir / ".jobs"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def session_limit(self) -> int:
        if self.max_sessions > 0:
            return self.max_sessions
        import torch

        return 4 if torch.cuda.is_available() else 2


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
