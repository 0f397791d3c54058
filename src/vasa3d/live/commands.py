"""``vasa3d live``: talk to an avatar in real time from a microphone, a file or text; record it.

Nothing heavy is imported at registration: the session loads torch and the avatar when it runs.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time

log = logging.getLogger("vasa3d")

CHUNK_S = 0.02  # a microphone's chunk


def register(sub) -> None:
    p = sub.add_parser(
        "live", help="talk to an avatar in real time (microphone, audio file or text) and record it",
        description="Run a live session: the avatar idles (blinks, breathes, looks around) and talks as "
                    "speech arrives, on a real-time clock. Speech comes from --mic, --audio FILE (played in "
                    "20 ms chunks as a microphone would send it) or --text. With a display the session is "
                    "shown in a window with its sound; -o records it as mp4. Prints fps and latency.")
    p.add_argument("avatar", help="a .vasa3d file from 'vasa3d create'")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mic", action="store_true", help="speak into the default microphone (needs PortAudio)")
    src.add_argument("--audio", metavar="FILE", help="speech file, fed in real time (wav, mp3, m4a, a video's track)")
    src.add_argument("--text", help="text for the built-in synthesizer to speak")
    p.add_argument("-o", "--output", help="record the session to this .mp4")
    p.add_argument("--size", type=int, default=384, metavar="PX", help="frame size in pixels (default: 384)")
    p.add_argument("--seconds", type=float, default=0.0, metavar="S",
                   help="session length (default: until the speech is over and one more second; "
                        "with --mic, until Ctrl-C)")
    p.add_argument("--camera", default="front", help="front or yaw=DEG,pitch=DEG (default: front)")
    p.add_argument("--distance", type=float, default=1.0, help="camera distance, 1 = the portrait's (default: 1)")
    p.add_argument("--emotion", default="neutral", choices=["neutral", "happy", "sad", "angry", "surprised"],
                   help="emotion (default: neutral)")
    p.add_argument("--background", default="", metavar="BG",
                   help="black, white, #RRGGBB or an image file behind the head (default: the avatar's own)")
    p.add_argument("--voice", default="female", choices=["male", "female"], help="voice of --text (default: female)")
    p.add_argument("--backend", default="auto", choices=["auto", "cpu", "torch", "gsplat"],
                   help="rasterizer (default: auto)")
    p.add_argument("--precision", default="auto",  # checked by LiveConfig (registering stays import-light)
                   help="VAS networks: auto (bfloat16 on CPUs with bf16 units, else int8; float32 on CUDA), "
                        "float32, int8 or bfloat16 (default: auto)")
    p.add_argument("--head-model", default="", metavar="PATH",
                   help="your FLAME model file, for an avatar made with --head flame:PATH (docs/head.md)")
    p.add_argument("--show", choices=["auto", "yes", "no"], default="auto",
                   help="show a window and play the sound (auto: when a display is there)")
    p.set_defaults(func=run)


def _camera(spec: str) -> tuple[float, float]:
    from vasa3d.pipeline import parse_camera

    kind, yaw, pitch = parse_camera(spec)
    if kind == "orbit":
        from vasa3d.errors import InputError

        raise InputError("--camera orbit is for recorded videos; a live session takes front or yaw=DEG,pitch=DEG")
    return yaw, pitch


def run(args: argparse.Namespace) -> int:
    from vasa3d.errors import InputError
    from vasa3d.live import LiveConfig, LiveControls

    if not math.isfinite(args.seconds) or args.seconds < 0:
        raise InputError(f"--seconds must be a finite number >= 0, got {args.seconds}")
    yaw, pitch = _camera(args.camera)
    controls = LiveControls(yaw=yaw, pitch=pitch, distance=args.distance, emotion=args.emotion,
                            size=args.size).validated()
    config = LiveConfig(size=args.size, backend=args.backend, precision=args.precision, voice=args.voice,
                        background=args.background).validate()
    recorder = None
    if args.output:
        from vasa3d.io.paths import check_output_path

        check_output_path(args.output, inputs=[args.avatar, args.audio, args.head_model], suffixes=(".mp4",),
                          what="recording")
    feeder = None
    if args.audio:
        from vasa3d.io.media import audio_info

        audio_info(args.audio)  # refuse a bad file before the session starts
    if args.mic:
        _check_mic()
    from vasa3d.io import load_avatar
    from vasa3d.live import LiveSession

    session = LiveSession(load_avatar(args.avatar, head_model=args.head_model or None), config, controls)
    show = args.show == "yes" or (args.show == "auto" and _has_display())
    viewer = _Viewer(session.sample_rate) if show else None
    try:
        with session:
            if args.output:
                from vasa3d.live.record import LiveRecorder

                recorder = LiveRecorder(args.output, config.fps, session.sample_rate).__enter__()
            speech_s = 0.0
            if args.text:
                speech_s = session.say(args.text)
            elif args.audio:
                feeder = _FileFeeder(session, args.audio)
                speech_s = feeder.seconds
                feeder.start()
            elif args.mic:
                feeder = _Mic(session)
            end = args.seconds or (math.inf if args.mic else speech_s + session.delay_s + 1.0)
            _loop(session, end, recorder, viewer, quiet=getattr(args, "quiet", False))
    except BaseException:
        if recorder is not None:
            recorder.__exit__(*sys.exc_info())
        raise
    finally:
        if feeder is not None:
            feeder.stop()
        if viewer is not None:
            viewer.close()
    if recorder is not None:
        recorder.__exit__(None, None, None)
        log.info("recorded %d frames to %s", recorder.frames, recorder.path)
    return 0


def _loop(session, end_s: float, recorder, viewer, quiet: bool) -> None:
    """Read frames until ``end_s`` seconds of session time; record, show, report."""
    last_report = 0.0
    try:
        while True:
            frame = session.get_frame(timeout=2.0)
            if frame is None:
                break
            if recorder is not None:
                recorder.add(frame)
            if viewer is not None and not viewer.show(frame):
                break
            if not quiet and frame.timestamp - last_report >= 1.0:
                last_report = frame.timestamp
                _report(session.stats(), end="\r")
            if frame.timestamp >= end_s:
                break
    except KeyboardInterrupt:
        pass
    if not quiet:
        _report(session.stats(), end="\n")


def _report(stats: dict, end: str) -> None:
    lat = stats["latency_ms"]
    latency = f"latency {lat['median']:.0f} ms (p95 {lat['p95']:.0f})" if lat["median"] is not None else "latency -"
    line = (f"{stats['frames']:6d} frames  {stats['fps']:5.1f} fps  {stats['render_size']} px  {latency}  "
            f"dropped {stats['dropped']}  {'speaking' if stats['speaking'] else 'idle    '}")
    print(line, end=end, file=sys.stderr, flush=True)


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _check_mic() -> None:
    from vasa3d.errors import MissingAssetError

    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError) as exc:
        raise MissingAssetError(f"--mic needs PortAudio (apt install libportaudio2): {exc}") from None


class _FileFeeder(threading.Thread):
    """Push a speech file into the session in 20 ms chunks at real-time pace, as a microphone would."""

    def __init__(self, session, path):
        super().__init__(daemon=True, name="vasa3d-live-feeder")
        from vasa3d.io import load_audio

        self.samples, self.rate = load_audio(path, sr=16000)
        self.seconds = len(self.samples) / self.rate
        self.session = session
        self._stop_event = threading.Event()

    def run(self) -> None:
        step = int(CHUNK_S * self.rate)
        t0 = time.monotonic()
        for i, start in enumerate(range(0, len(self.samples), step)):
            if self._stop_event.wait(max(0.0, t0 + i * CHUNK_S - time.monotonic())):
                return
            self.session.push_audio(self.samples[start:start + step], self.rate)

    def stop(self) -> None:
        self._stop_event.set()


class _Mic:
    """The default microphone, 20 ms blocks straight into the session."""

    def __init__(self, session):
        import sounddevice as sd

        self.session = session
        rate = 16000
        self.stream = sd.InputStream(samplerate=rate, channels=1, dtype="float32", blocksize=int(CHUNK_S * rate),
                                     callback=lambda data, *_: session.push_audio(data[:, 0].copy(), rate))
        self.stream.start()
        log.info("listening on the default microphone; Ctrl-C ends the session")

    def stop(self) -> None:
        self.stream.stop()
        self.stream.close()


class _Viewer:
    """A window with the frames and the session's sound (OpenCV window, PortAudio output)."""

    def __init__(self, rate: int):
        self.audio = None
        try:
            import sounddevice as sd

            self.audio = sd.OutputStream(samplerate=rate, channels=1, dtype="float32")
            self.audio.start()
        except Exception as exc:  # no sound device: show the video anyway
            log.warning("no sound output (%s); showing video only", str(exc).splitlines()[0][:80])

    def show(self, frame) -> bool:
        import cv2

        if self.audio is not None:
            self.audio.write(frame.audio.reshape(-1, 1))
        cv2.imshow("vasa3d live", frame.image[:, :, ::-1])
        return (cv2.waitKey(1) & 0xFF) not in (27, ord("q"))

    def close(self) -> None:
        import cv2

        if self.audio is not None:
            self.audio.stop()
            self.audio.close()
        cv2.destroyAllWindows()
