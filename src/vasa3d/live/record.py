"""Record a live session as it plays: H.264 video and AAC audio, written frame by frame.

Memory stays flat however long the session runs; the file appears under its name only
once it is complete (an interrupted recording leaves nothing behind).
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import numpy as np


class LiveRecorder:
    """``with LiveRecorder(path, fps, sample_rate) as rec: rec.add(frame)`` for each :class:`LiveFrame`.

    Every frame must have the same image size; its audio (``sample_rate / fps`` samples) follows it.
    """

    def __init__(self, path: str | Path, fps: float, sample_rate: int, crf: int = 20):
        from vasa3d.io.paths import check_output_path

        self.path = check_output_path(path, suffixes=(".mp4",), what="recording")
        self.fps, self.rate, self.crf = fps, int(sample_rate), crf
        self._stack = contextlib.ExitStack()
        self._out = self._video = self._audio = self._resampler = None
        self._samples = 0
        self.frames = 0

    def __enter__(self) -> "LiveRecorder":
        import av

        from vasa3d.io.paths import atomic_output

        tmp = self._stack.enter_context(atomic_output(self.path, suffix=".mp4"))
        self._out = self._stack.enter_context(av.open(str(tmp), mode="w", format="mp4"))
        self._audio = self._out.add_stream("aac", rate=48000)
        self._audio.layout = "mono"
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        return self

    def add(self, frame) -> None:
        """Append one frame (image and its audio)."""
        import av

        image = np.ascontiguousarray(frame.image, dtype=np.uint8)
        if self._video is None:
            h, w = image.shape[:2]
            self._video = self._out.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            self._video.width, self._video.height = w - w % 2, h - h % 2
            self._video.pix_fmt = "yuv420p"
            self._video.options = {"crf": str(self.crf), "preset": "veryfast"}
        image = image[: self._video.height, : self._video.width]
        if image.shape[:2] != (self._video.height, self._video.width):  # a size change mid-session
            import cv2

            image = cv2.resize(frame.image, (self._video.width, self._video.height), interpolation=cv2.INTER_AREA)
        vf = av.VideoFrame.from_ndarray(image, format="rgb24")
        vf.pts, vf.time_base = self.frames, Fraction(1) / Fraction(self.fps).limit_denominator(1001)
        for packet in self._video.encode(vf):
            self._out.mux(packet)
        self.frames += 1
        audio = np.ascontiguousarray(frame.audio, dtype=np.float32).reshape(1, -1)
        af = av.AudioFrame.from_ndarray(audio, format="flt", layout="mono")
        af.sample_rate = self.rate
        af.pts, af.time_base = self._samples, Fraction(1, self.rate)
        self._samples += audio.shape[1]
        for rframe in self._resampler.resample(af):
            for packet in self._audio.encode(rframe):
                self._out.mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self._video is None:
                    from vasa3d.errors import InputError

                    raise InputError("the session ended before its first frame; nothing was recorded")
                for packet in self._video.encode():
                    self._out.mux(packet)
                for rframe in self._resampler.resample(None):
                    for packet in self._audio.encode(rframe):
                        self._out.mux(packet)
                for packet in self._audio.encode(None):
                    self._out.mux(packet)
        except BaseException:
            self._stack.__exit__(*__import__("sys").exc_info())
            raise
        self._stack.__exit__(exc_type, exc, tb)
