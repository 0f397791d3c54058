"""Live sessions of the web app: at most N at once, each a :class:`vasa3d.live.LiveSession` and a pump.

The pump thread takes every frame the engine makes (on its real-time clock) and hands it to the
subscribers (the WebRTC tracks), to a recorder of what was said (for the mp4 download) and to a
short timeline (index, wall time, loudness) that tests and benchmarks read.  A session nobody is
connected to for ``idle_timeout`` seconds is closed, so abandoned pages do not hold the slots.
"""

from __future__ import annotations

import collections
import io
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError
from vasa3d.serve.errors import BusyError, NotFound
from vasa3d.serve.security import check_server_id

RECORD_SECONDS = 120  # the download holds the last two minutes of speech
SPEECH_PEAK = 1e-3
TAIL_FRAMES = 10
TIMELINE = 1500
FEED_AHEAD_S = 1.0


def default_engine(avatar_path: Path, size: int):
    from vasa3d.live import LiveConfig, LiveSession

    engine = LiveSession(str(avatar_path), LiveConfig(size=size))
    engine.start()
    return engine


class Recorder:
    """What was said, as JPEG frames and their audio: frames with speech plus a short tail, bounded."""

    def __init__(self, fps: float = 25.0) -> None:
        self.frames: collections.deque = collections.deque(maxlen=int(RECORD_SECONDS * fps))
        self.fps = fps
        self._tail = 0
        self._lock = threading.Lock()

    def add(self, image: np.ndarray, audio: np.ndarray) -> None:
        if audio.size and float(np.abs(audio).max()) >= SPEECH_PEAK:
            self._tail = TAIL_FRAMES
        elif self._tail > 0:
            self._tail -= 1
        else:
            return
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=85)
        with self._lock:
            self.frames.append((buf.getvalue(), np.asarray(audio, np.float32).copy()))

    def write(self, path: Path, sample_rate: int) -> Path:
        from PIL import Image

        from vasa3d.io import write_video

        with self._lock:
            frames = list(self.frames)
        if not frames:
            raise InputError("nothing was said yet in this session: speak, type or play audio first")
        audio = np.concatenate([a for _, a in frames])
        images = (np.asarray(Image.open(io.BytesIO(j)).convert("RGB")) for j, _ in frames)
        return write_video(path, images, self.fps, audio, sample_rate)


class LiveClient:
    """One live session: the engine, its pump thread, subscribers, recorder and timeline."""

    def __init__(self, session_id: str, avatar_id: str, engine, folder: Path) -> None:
        self.id, self.avatar_id, self.engine, self.folder = session_id, avatar_id, engine, folder
        self.created = self.last_seen = time.time()
        self.connections = 0
        self.subscribers: list[Callable] = []
        self.recorder = Recorder()
        self.timeline: collections.deque = collections.deque(maxlen=TIMELINE)
        self.frames_out = 0
        self._closed = threading.Event()
        self._feed_stop = threading.Event()
        self._lock = threading.Lock()
        self._pump = threading.Thread(target=self._run, name=f"vasa3d-pump-{session_id}", daemon=True)
        self._pump.start()

    @property
    def sample_rate(self) -> int:
        return int(getattr(self.engine, "sample_rate", 48000))

    def touch(self) -> None:
        self.last_seen = time.time()

    def subscribe(self, callback: Callable) -> Callable[[], None]:
        with self._lock:
            self.subscribers = [*self.subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self.subscribers = [s for s in self.subscribers if s is not callback]

        return unsubscribe

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                frame = self.engine.get_frame(timeout=0.5)
            except Exception:  # noqa: BLE001 - a closed or broken engine ends the pump
                if self._closed.is_set():
                    return
                time.sleep(0.1)
                continue
            if frame is None:
                continue
            self.frames_out += 1
            audio = np.asarray(frame.audio, np.float32)
            rms = float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
            self.timeline.append((int(frame.index), time.time(), rms))
            for callback in self.subscribers:
                callback(frame)
            self.recorder.add(frame.image, audio)

    # ------------------------------------------------------------------ talking
    def push_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        self.touch()
        self.engine.push_audio(samples, sample_rate)

    def say(self, text: str) -> float:
        self.touch()
        return float(self.engine.say(text))

    def interrupt(self) -> None:
        self.touch()
        self._feed_stop.set()
        self.engine.interrupt()

    def set_controls(self, **controls) -> None:
        self.touch()
        self.engine.set_controls(**controls)

    def stats(self) -> dict:
        stats = dict(self.engine.stats())
        stats.update(id=self.id, avatar=self.avatar_id, frames_out=self.frames_out, connections=self.connections)
        return stats

    def play(self, samples: np.ndarray, sample_rate: int) -> float:
        """Feed a whole recording in real time (a second ahead of the clock), so no chunk is ever too long."""
        self.touch()
        self._feed_stop.set()
        stop = self._feed_stop = threading.Event()
        chunk = max(1, sample_rate // 5)

        def feed() -> None:
            for start in range(0, len(samples), chunk):
                while not stop.is_set() and not self._closed.is_set():
                    if float(self.engine.stats().get("queued_audio_s", 0.0)) < FEED_AHEAD_S:
                        break
                    time.sleep(0.05)
                if stop.is_set() or self._closed.is_set():
                    return
                try:
                    self.engine.push_audio(samples[start : start + chunk], sample_rate)
                except Exception:  # noqa: BLE001 - the session ended under us
                    return

        threading.Thread(target=feed, name=f"vasa3d-feed-{self.id}", daemon=True).start()
        return len(samples) / sample_rate

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._feed_stop.set()
        try:
            self.engine.close()
        finally:
            self._pump.join(timeout=5)


class SessionManager:
    """At most ``limit`` live sessions; a slot is taken before the (slow) engine start, so a flood cannot overshoot."""

    def __init__(self, limit: int, size: int, folder: Path, idle_timeout: float = 60.0,
                 make_engine: Callable = default_engine) -> None:
        self.limit, self.size, self.folder, self.idle_timeout = limit, size, folder, idle_timeout
        self.make_engine = make_engine
        self.sessions: dict[str, LiveClient] = {}
        self._starting = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="vasa3d-reaper", daemon=True)
        self._reaper.start()

    def start(self, avatar_id: str, avatar_path: Path) -> LiveClient:
        with self._lock:
            if len(self.sessions) + self._starting >= self.limit:
                raise BusyError(f"busy: all {self.limit} live sessions are in use; try again when one ends")
            self._starting += 1
        try:
            engine = self.make_engine(avatar_path, self.size)
            session_id = secrets.token_hex(8)
            client = LiveClient(session_id, avatar_id, engine, self.folder / session_id)
            with self._lock:
                self.sessions[session_id] = client
            return client
        finally:
            with self._lock:
                self._starting -= 1

    def get(self, session_id: object) -> LiveClient:
        client = self.sessions.get(check_server_id(session_id, "session"))
        if client is None:
            raise NotFound(f"no live session {session_id} (it ended or timed out); start a new one")
        return client

    def end(self, session_id: object) -> None:
        client = self.get(session_id)
        with self._lock:
            self.sessions.pop(client.id, None)
        client.close()

    def list(self) -> list[dict]:
        return [{"id": c.id, "avatar": c.avatar_id, "created": c.created, "connections": c.connections}
                for c in list(self.sessions.values())]

    def _reap(self) -> None:
        while not self._stop.wait(1.0):
            now = time.time()
            for client in list(self.sessions.values()):
                if client.connections == 0 and now - client.last_seen > self.idle_timeout:
                    try:
                        self.end(client.id)
                    except NotFound:
                        pass

    def close(self) -> None:
        self._stop.set()
        for session_id in list(self.sessions):
            try:
                self.end(session_id)
            except NotFound:
                pass
