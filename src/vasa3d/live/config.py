"""Settings of a live session (:class:`LiveConfig`) and the controls that change while it runs (:class:`LiveControls`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from vasa3d.errors import InputError
from vasa3d.motion.config import EMOTIONS

#: VAS precisions a session takes: auto, or one of vasa3d.gaussians.inference.PRECISIONS
LIVE_PRECISIONS = ("auto", "float32", "int8", "bfloat16")


@dataclass
class LiveConfig:
    """How a :class:`~vasa3d.live.LiveSession` runs.

    The defaults aim at a 2-core laptop CPU: 384x384 at 25 fps with the phonetic generator.
    """

    size: int = 384
    """Output frame width and height in pixels (16-1024)."""
    fps: float = 25.0
    """Frames per second (the motion generators' rate); sample_rate / fps must be whole."""
    sample_rate: int = 48000
    """Rate of the audio that comes out with the frames (Hz); input audio of any rate is resampled to it."""
    backend: str = "auto"
    """Rasterizer: auto (gsplat on CUDA, else the numba CPU kernels), cpu, torch or gsplat."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    precision: Literal["auto", "float32", "int8", "bfloat16"] = "auto"
    """VAS networks: float32 (exact), int8 (hidden layers quantised: faster on any CPU), bfloat16 (much
    faster on CPUs with bf16 matrix units, AMX or AVX512-BF16); see docs/live.md. auto: bfloat16 on a CPU
    that has bf16 units, int8 on other CPUs, float32 on CUDA."""
    generator: Literal["phonetic", "loudness"] = "phonetic"
    """Audio-to-motion generator (both stream with <= 100 ms of look-ahead)."""
    seed: int = 0
    """Seed of blinks, saccades and idle head motion."""
    voice: str = "female"
    """Voice of the built-in synthesizer for say(): male or female."""
    realtime: bool = True
    """Run on the wall clock. False: as fast as frames are read (tests, offline rendering of a session)."""
    adaptive: bool = True
    """When the machine cannot keep up, render smaller (down to min_size), then drop frames, instead of drifting."""
    min_size: int = 0
    """Smallest render size adaptive mode goes down to (frames are scaled up to size); 0: half the size, at
    least 128 pixels."""
    pipeline_budget_s: float = 0.0
    """Time a frame may take from its audio being in to its image being ready (0: 0.05 s on a CPU, 0.04 s on
    CUDA). Video comes out this much plus the generator's 100 ms look-ahead after the audio that drives it."""
    deform_threads: int = 0
    """CPU threads of the deformation (torch, for the whole process); 0: torch's setting."""
    render_threads: int = 0
    """CPU threads of the rasterizer (numba, the render thread only); 0: numba's setting (all cores)."""
    max_chunk_s: float = 30.0
    """Longest audio chunk push_audio takes at once (longer ones are refused: push in pieces)."""
    max_queued_s: float = 600.0
    """Most speech that may wait to be spoken (push_audio and say refuse more)."""
    background: str = ""
    """black, white, #RRGGBB or an image file behind the head; empty: the avatar's own (black)."""

    def validate(self) -> "LiveConfig":
        if not isinstance(self.size, int) or not 16 <= self.size <= 1024:
            raise InputError(f"live size must be a whole number of pixels from 16 to 1024, got {self.size!r}")
        if not isinstance(self.min_size, int) or not (self.min_size == 0 or 16 <= self.min_size <= 1024):
            raise InputError(f"min_size must be 0 (auto) or 16 to 1024 pixels, got {self.min_size!r}")
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and 1 <= self.fps <= 120):
            raise InputError(f"fps must be from 1 to 120, got {self.fps!r}")
        if not isinstance(self.sample_rate, int) or not 8000 <= self.sample_rate <= 192000:
            raise InputError(f"sample_rate must be a whole number of Hz from 8000 to 192000, got {self.sample_rate!r}")
        spf = self.sample_rate / self.fps
        if abs(spf - round(spf)) > 1e-9:
            raise InputError(f"sample_rate / fps must be whole ({self.sample_rate} / {self.fps} is not)")
        if self.precision not in LIVE_PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}; use {', '.join(LIVE_PRECISIONS)}")
        if self.generator not in ("phonetic", "loudness"):
            raise InputError(f"unknown live generator {self.generator!r}; use phonetic or loudness")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"unknown device {self.device!r}; use auto, cpu or cuda")
        for name in ("deform_threads", "render_threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 0 <= v <= 256:
                raise InputError(f"{name} must be a whole number from 0 to 256, got {v!r}")
        for name in ("pipeline_budget_s", "max_chunk_s", "max_queued_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.background:
            from vasa3d.render.composite import parse_background

            if parse_background(self.background).kind in ("portrait", "transparent"):
                raise InputError(f"a live session takes black, white, #RRGGBB or an image as background, not "
                                 f"{self.background!r}")
        return self

    @property
    def smallest_size(self) -> int:
        """The render size adaptive mode stops at."""
        return min(self.min_size or max(128, self.size // 2), self.size)

    @property
    def samples_per_frame(self) -> int:
        return int(round(self.sample_rate / self.fps))


@dataclass(frozen=True)
class LiveControls:
    """What a viewer or a program changes while the avatar talks; each change shows on the next frame."""

    yaw: float = 0.0
    """Camera orbit around the head, degrees (+: the camera moves to the subject's left), -90 to 90."""
    pitch: float = 0.0
    """Camera elevation, degrees (+: from above), -60 to 60."""
    distance: float = 1.0
    """Camera distance relative to the portrait's (2: twice as far), 0.3 to 5."""
    emotion: str = "neutral"
    """neutral, happy, sad, angry or surprised."""
    emotion_intensity: float = 1.0
    """Strength of the emotion, 0 to 1."""
    gaze: tuple[float, float] = (0.0, 0.0)
    """Mean gaze (yaw toward the subject's left, pitch up) relative to the head, degrees, within +-40 / +-30."""
    motion_intensity: float = 1.0
    """Scale of head motion and expressiveness, 0 to 5."""
    size: int = 384
    """Output frame size in pixels, 16 to 1024."""

    def replace(self, **changes) -> "LiveControls":
        """A validated copy with ``changes``; raises InputError naming the bad control."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise InputError(f"unknown live control(s) {', '.join(unknown)}; use {', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> "LiveControls":
        def number(name: str, lo: float, hi: float) -> float:
            v = getattr(self, name)
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise InputError(f"{name} must be a number, got {v!r}") from None
            if not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(f"{name} must be a finite number from {lo:g} to {hi:g}, got {v!r}")
            return v

        out = {
            "yaw": number("yaw", -90, 90), "pitch": number("pitch", -60, 60),
            "distance": number("distance", 0.3, 5.0), "emotion_intensity": number("emotion_intensity", 0, 1),
            "motion_intensity": number("motion_intensity", 0, 5),
        }
        if self.emotion not in EMOTIONS:
            raise InputError(f"unknown emotion {self.emotion!r}; use one of {', '.join(EMOTIONS)}")
        try:
            gy, gp = (float(g) for g in self.gaze)
        except (TypeError, ValueError):
            raise InputError(f"gaze must be two numbers (yaw, pitch), got {self.gaze!r}") from None
        if not (math.isfinite(gy) and math.isfinite(gp) and abs(gy) <= 40 and abs(gp) <= 30):
            raise InputError(f"gaze must be (yaw, pitch) degrees within +-40 and +-30, got {self.gaze!r}")
        size = self.size
        if isinstance(size, float) and size.is_integer():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 1024:
            raise InputError(f"size must be a whole number of pixels from 16 to 1024, got {self.size!r}")
        return dataclasses.replace(self, gaze=(gy, gp), size=size, **out)
