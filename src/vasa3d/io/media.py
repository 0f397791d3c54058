"""Images, audio and video in and out (PyAV and Pillow).

Readers turn every failure a user can cause into one :class:`InputError`
line; the video writer is atomic (a temp file renamed into place), so a
failed run never leaves a half-written mp4.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.paths import atomic_output, check_output_path

__all__ = ["MAX_AUDIO_SECONDS", "MAX_IMAGE_PIXELS", "audio_info", "check_output_path", "iter_audio", "load_audio", "load_image", "probe_video", "read_video_frames", "save_image",
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


#: the most pixels an input image may have (64 megapixels: an 8,000 x 8,000 photo); more is refused before decoding
MAX_IMAGE_PIXELS = 64_000_000


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB, honouring EXIF orientation.

    16-bit images (greyscale PNGs included) are scaled to 8 bits, greyscale becomes RGB,
    and an alpha channel is composited over white (a cut-out portrait on white looks
    like a studio photo to the face detector).  Images over :data:`MAX_IMAGE_PIXELS` are
    refused from their header, before any pixel is decoded.
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    p = _existing_file(path, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS or w <= 0 or h <= 0:
                    raise InputError(f"{p} is {w} x {h} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} "
                                     "megapixels (see docs/limits.md), give a smaller photo")
                im = ImageOps.exif_transpose(im)
                return _to_rgb8(im)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{p} decodes to too many pixels (a decompression bomb?); give an ordinary photo") from None
    except MemoryError:
        raise InputError(f"{p} is too large to decode in memory; give a smaller photo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError) as exc:
        raise InputError(f"{p} is not a readable image ({type(exc).__name__}); give a JPEG or PNG photo") from None


def _to_rgb8(im) -> np.ndarray:
    """Any Pillow image as uint8 RGB: high bit depths scaled, alpha composited over white."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        x = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or x.max(initial=0) > 255 else 255.0
        if im.mode == "F" and x.max(initial=0) <= 1.0:
            top = 1.0
        grey = np.clip(x / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 RGB(A) or grey image atomically (format from the suffix)."""
    from PIL import Image

    with atomic_output(path) as tmp:
        Image.fromarray(np.asarray(image)).save(tmp)


#: the longest recording read (4 hours); longer ones are refused before decoding
MAX_AUDIO_SECONDS = 4 * 3600
#: sample rates accepted (Hz); a header outside claims an impossible file
AUDIO_RATES = (4000, 384000)
MAX_AUDIO_CHANNELS = 32


def audio_info(path: str | os.PathLike) -> dict:
    """Sample rate, channels and duration of an audio file, read from its header without decoding.

    Raises:
        InputError: no audio track, a rate or channel count no real recording has, or a
            duration over :data:`MAX_AUDIO_SECONDS`.
    """
    import av

    p = _existing_file(path, "audio file")
    try:
        with av.open(str(p)) as container:
            return _check_audio_header(p, container)
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not a readable audio file ({exc.__class__.__name__}); give wav, mp3, ogg or m4a") from None


def _check_audio_header(p: Path, container) -> dict:
    if not container.streams.audio:
        raise InputError(f"{p} has no audio track; give a speech recording (wav, mp3, ogg, m4a)")
    stream = container.streams.audio[0]
    rate = int(stream.rate or stream.codec_context.sample_rate or 0)
    channels = int(stream.codec_context.channels or 0)
    if not AUDIO_RATES[0] <= rate <= AUDIO_RATES[1]:
        raise InputError(f"{p} claims a sample rate of {rate} Hz; real recordings are {AUDIO_RATES[0]}-"
                         f"{AUDIO_RATES[1]} Hz, so the file is broken or not what it says")
    if not 1 <= channels <= MAX_AUDIO_CHANNELS:
        raise InputError(f"{p} claims {channels} audio channels; at most {MAX_AUDIO_CHANNELS} are read")
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if duration is not None and duration > MAX_AUDIO_SECONDS:
        raise InputError(f"{p} is {duration / 3600:.1f} hours long; the limit is {MAX_AUDIO_SECONDS // 3600} hours, "
                         "split it (see docs/limits.md)")
    return {"rate": rate, "channels": channels, "duration": duration, "codec": stream.codec_context.name}


def iter_audio(path: str | os.PathLike, sr: int = 16000, chunk_seconds: float = 10.0,
               info: dict | None = None) -> Iterator[np.ndarray]:
    """Decode an audio file chunk by chunk: mono float32 ``(N,)`` arrays of about ``chunk_seconds`` at ``sr`` Hz.

    Memory stays at one chunk whatever the file's length.  The header is checked first
    (:func:`audio_info`); decoding stops with an error once more than
    :data:`MAX_AUDIO_SECONDS` came out (a header may lie).  A packet that does not decode is
    skipped, as players do, with a warning at the end; if most packets are unreadable the
    file is refused.  ``info``, when given, receives ``peak`` and ``seconds`` at the end.

    Raises:
        InputError: a missing, unreadable, impossible, too long, empty or mostly corrupt file.
    """
    import av

    p = _existing_file(path, "audio file")
    bad = good = 0
    total = 0
    peak = 0.0
    limit = MAX_AUDIO_SECONDS * sr
    block = max(1, int(chunk_seconds * sr))
    pending: list[np.ndarray] = []
    n_pending = 0

    def take(out) -> None:
        nonlocal total, peak, n_pending
        x = out.to_ndarray().mean(axis=0).astype(np.float32)
        if not np.isfinite(x).all():
            raise InputError(f"{p} holds invalid (NaN/inf) samples")
        total += len(x)
        if total > limit:
            raise InputError(f"{p} decodes to more than {MAX_AUDIO_SECONDS // 3600} hours of audio; split it "
                             "(see docs/limits.md)")
        if len(x):
            peak = max(peak, float(np.abs(x).max()))
        pending.append(np.clip(x, -1.0, 1.0))
        n_pending += len(x)

    def drain(final: bool):
        nonlocal pending, n_pending
        while n_pending >= block or (final and n_pending):
            joined = np.concatenate(pending)
            head, rest = joined[:block], joined[block:]
            pending, n_pending = ([rest] if len(rest) else []), len(rest)
            yield head

    try:
        with av.open(str(p)) as container:
            claimed = _check_audio_header(p, container)["duration"]
            stream = container.streams.audio[0]
            resampler = None
            for packet in container.demux(stream):
                if packet.size == 0 and packet.dts is None:
                    frames = packet.decode()  # the decoder's flush
                else:
                    try:
                        frames = packet.decode()
                        good += 1
                    except (av.error.FFmpegError, ValueError) as exc:
                        # a damaged packet fails in many ways (an AAC packet of 0xFF bytes: an
                        # "undefined" error from avcodec_send_packet); players skip it, and so do we
                        if isinstance(exc, MemoryError):
                            raise
                        bad += 1
                        continue
                for frame in frames:
                    if resampler is None:
                        # keep the channel layout and average channels ourselves: ffmpeg's
                        # own downmix sums channels, which changes the loudness of stereo
                        resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=sr)
                    for out in resampler.resample(frame):
                        take(out)
                yield from drain(False)
            if resampler is not None:
                for out in resampler.resample(None):
                    take(out)
    except InputError:
        raise
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not a readable audio file ({exc.__class__.__name__}); give wav, mp3, ogg or m4a") from None
    if bad > good:
        raise InputError(f"{p} is mostly unreadable ({bad} of {bad + good} audio packets are corrupt)")
    if bad and claimed and claimed > 1.0 and total / sr < 0.5 * claimed:
        raise InputError(f"{p} is mostly unreadable (only {total / sr:.1f} s of its {claimed:.1f} s decode)")
    if total == 0:
        raise InputError(f"{p} holds no audio samples; give a speech recording")
    if bad:
        logging.getLogger("vasa3d.io").warning(f"warning: skipped {bad} corrupt audio packet(s) of {bad + good} "
                                               f"in {p}")
    yield from drain(True)
    if info is not None:
        info.update(peak=peak, seconds=total / sr)


def load_audio(path: str | os.PathLike, sr: int = 16000) -> tuple[np.ndarray, int]:
    """Decode any audio file PyAV reads (wav, mp3, ogg, m4a, flac, a video's track) in one array.

    Long recordings are better read with :func:`iter_audio`, whose memory does not grow with duration.

    Returns:
        ``(samples, sr)``: mono float32 samples in [-1, 1] resampled to ``sr`` Hz.
    """
    chunks = list(iter_audio(path, sr))
    return np.concatenate(chunks), sr


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    audio: np.ndarray | Callable[[], Iterable[np.ndarray]] | None = None,
    sr: int = 16000,
    crf: int = 18,
) -> Path:
    """Write frames ``(H, W, 3)`` uint8 as H.264 mp4 with an optional AAC track; atomic.

    ``audio`` is mono float samples at ``sr`` Hz, or a function returning an iterator of
    such chunks (read after the frames, so a long recording is never held whole).
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
                chunks = [np.asarray(audio, np.float32)] if isinstance(audio, np.ndarray) else audio()
                _mux_audio(out, astream, chunks, sr)
    return p


def _mux_audio(out, stream, chunks: Iterable[np.ndarray], sr: int) -> None:
    import av

    # the encoder's own sample format: fltp for AAC, flt for Opus (WebM)
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=stream.rate)
    block = 4096
    done = 0  # samples so far: input frames carry timestamps, else the flushed tail's packet has one and
    # the earlier packets none, which the mp4 muxer refuses (EINVAL) for some lengths
    for samples in chunks:
        samples = np.asarray(samples, np.float32)
        for start in range(0, len(samples), block):
            chunk = np.ascontiguousarray(samples[start : start + block]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = sr
            frame.pts, frame.time_base = done, Fraction(1, sr)
            done += chunk.shape[1]
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
