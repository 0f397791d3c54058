"""Video with an alpha channel: WebM (VP9, yuva420p, Opus audio) or a folder of RGBA PNGs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.media import _mux_audio


def write_webm_alpha(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 25.0,
                     audio: np.ndarray | None = None, sr: int = 16000) -> Path:
    """Write RGBA frames ``(H, W, 4)`` uint8 as VP9 WebM with alpha (and Opus audio); atomic.

    Browsers and ffmpeg's ``libvpx-vp9`` decoder keep the alpha; ffmpeg's native ``vp9``
    decoder drops it (see :func:`read_webm_alpha`).
    """
    import av

    from vasa3d.io.paths import atomic_output

    p = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(p, suffix=".webm") as tmp:
        with av.open(str(tmp), mode="w", format="webm") as out:
            vstream = astream = None
            if audio is not None:
                astream = out.add_stream("libopus", rate=48000)
                astream.layout = "mono"
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if frame.ndim != 3 or frame.shape[2] != 4:
                    raise ValueError(f"alpha video frames must be (H, W, 4) RGBA, got {frame.shape}")
                if vstream is None:
                    h, w = frame.shape[:2]
                    vstream = out.add_stream("libvpx-vp9", rate=rate)
                    vstream.width, vstream.height = w - w % 2, h - h % 2
                    vstream.pix_fmt = "yuva420p"
                    vstream.options = {"crf": "24", "b": "0", "deadline": "realtime", "cpu-used": "8",
                                       "auto-alt-ref": "0"}
                frame = frame[: vstream.height, : vstream.width]
                for packet in vstream.encode(av.VideoFrame.from_ndarray(frame, format="rgba")):
                    out.mux(packet)
            if vstream is None:
                raise InputError("no frames to write")
            for packet in vstream.encode():
                out.mux(packet)
            if astream is not None:
                _mux_audio(out, astream, [np.asarray(audio, np.float32)], sr)
    return p


def read_webm_alpha(path: str | os.PathLike) -> list[np.ndarray]:
    """The RGBA frames ``(H, W, 4)`` uint8 of a VP9 WebM with alpha (decoded with ``libvpx-vp9``)."""
    import av

    frames = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        for packet in c.demux(stream):
            for frame in decoder.decode(packet if packet.size else None):
                frames.append(frame.to_ndarray(format="rgba"))
    return frames


def write_png_sequence(folder: str | os.PathLike, frames: Iterable[np.ndarray], prefix: str = "frame_") -> Path:
    """Write RGB(A) frames as ``folder/frame_00000.png`` ... (the folder is created; each file atomically)."""
    from vasa3d.io.media import save_image

    d = Path(folder)
    d.mkdir(exist_ok=True)
    n = 0
    for n, frame in enumerate(frames, 1):
        save_image(d / f"{prefix}{n - 1:05d}.png", np.ascontiguousarray(frame, dtype=np.uint8))
    if n == 0:
        raise InputError("no frames to write")
    return d
