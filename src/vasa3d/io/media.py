"""Images, audio and video in and out (PyAV and Pillow).

Readers turn every failure a user can cause into one :class:`InputError`
line; the video writer is atomic (a temp file renamed into place), so a
failed run never leaves a half-written mp4.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.paths import atomic_output, check_output_path

__all__ = ["check_output_path", "load_audio", "load_image", "probe_video", "read_video_frames", "save_image",
           "write_video"]


def _existing_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if p.is_dir():
        raise InputError(f"{what} is a folder, not a file: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"{what} is empty (0 bytes): {p}")
    return p


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB, honouring EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = _existing_file(path, "image")
    try:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{p} is not a readable image ({type(exc).__name__}); give a JPEG or PNG photo") from None


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 RGB(A) or grey image atomically (format from the suffix)."""
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(np.asarray(image)).save(tmp)


def load_audio(path: str | os.PathLike, sr: int = 16000) -> tuple[np.ndarray, int]:
    """Decode any audio file PyAV reads (wav, mp3, ogg, m4a, flac, a video's track).

    Returns:
        ``(samples, sr)``: mono float32 samples in [-1, 1] resampled to ``sr`` Hz.
    """
    import av

    p = _existing_file(path, "audio file")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise InputError(f"{p} has no audio track; give a speech recording (wav, mp3, ogg, m4a)")
            resampler = None
            for frame in container.decode(audio=0):
                if resampler is None:
                    # keep the channel layout and average channels ourselves: ffmpeg's
                    # own downmix sums channels, which changes the loudness of stereo
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=sr)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            if resampler is not None:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().mean(axis=0))
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not a readable audio file ({exc.__class__.__name__}); give wav, mp3, ogg or m4a") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise InputError(f"{p} holds no audio samples; give a speech recording")
    if not np.isfinite(samples).all():
        raise InputError(f"{p} holds invalid (NaN/inf) samples")
    return np.clip(samples, -1.0, 1.0), sr


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    audio: np.ndarray | None = None,
    sr: int = 16000,
    crf: int = 18,
) -> Path:
    """Write frames ``(H, W, 3)`` uint8 as H.264 mp4 with an optional AAC track; atomic.

    The file appears under ``path`` only once it is complete.
    """
    import av

    p = check_output_path(path)
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(p, suffix=".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            vstream = None
            astream = None
            if audio is not None:
                astream = out.add_stream("aac", rate=48000)
                astream.layout = "mono"
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if vstream is None:
                    h, w = frame.shape[:2]
                    vstream = out.add_stream("libx264", rate=rate)
                    vstream.width, vstream.height = w - w % 2, h - h % 2
                    vstream.pix_fmt = "yuv420p"
                    vstream.options = {"crf": str(crf), "preset": "veryfast"}
                frame = frame[: vstream.height, : vstream.width]
                for packet in vstream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
            if vstream is None:
                raise InputError("no frames to write")
            for packet in vstream.encode():
                out.mux(packet)
            if astream is not None:
                _mux_audio(out, astream, np.asarray(audio, np.float32), sr)
    return p


def _mux_audio(out, stream, samples: np.ndarray, sr: int) -> None:
    import av

    resampler = av.AudioResampler(format="fltp", layout="mono", rate=stream.rate)
    block = 4096
    for start in range(0, len(samples), block):
        chunk = samples[start : start + block].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        frame.sample_rate = sr
        for rframe in resampler.resample(frame):
            for packet in stream.encode(rframe):
                out.mux(packet)
    for rframe in resampler.resample(None):
        for packet in stream.encode(rframe):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def probe_video(path: str | os.PathLike) -> dict:
    """Duration, fps, frame count and audio duration of a video (for checks and tests)."""
    import av

    p = _existing_file(path, "video")
    try:
        with av.open(str(p)) as c:
            info: dict = {"video": None, "audio": None}
            if c.streams.video:
                v = c.streams.video[0]
                n = sum(1 for _ in c.decode(video=0))
                info["video"] = {"fps": float(v.average_rate), "frames": n, "width": v.width, "height": v.height,
                                 "codec": v.codec_context.name}
            c.seek(0)
            if c.streams.audio:
                a = c.streams.audio[0]
                total = 0
                rate = a.rate
                for fr in c.decode(audio=0):
                    total += fr.samples
                info["audio"] = {"duration": total / rate, "rate": rate, "codec": a.codec_context.name}
            return info
    except av.error.FFmpegError as exc:
        raise InputError(f"{p} is not a readable video ({exc.__class__.__name__})") from None


def read_video_frames(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """All frames of a video as uint8 RGB arrays, and its frame rate."""
    import av

    p = _existing_file(path, "video")
    try:
        with av.open(str(p)) as c:
            if not c.streams.video:
                raise InputError(f"{p} has no video track")
            fps = float(c.streams.video[0].average_rate or 25)
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)], fps
    except av.error.FFmpegError as exc:
        raise InputError(f"{p} is not a readable video ({exc.__class__.__name__}); it may be corrupt") from None
