"""A real uvicorn server on 127.0.0.1 for each test module, with a fake or the real live engine."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class FakeFrame:
    index: int
    timestamp: float
    image: np.ndarray
    audio: np.ndarray


class FakeEngine:
    """The LiveSession interface on a 25 fps clock, drawing a grey square whose brightness is the loudness."""

    sample_rate = 48000

    def __init__(self, size: int = 64) -> None:
        self.size, self.index, self.t0 = size, 0, time.time()
        self.queue = np.zeros(0, np.float32)
        self.controls: dict = {}
        self.closed = False
        self.lock = threading.Lock()

    def push_audio(self, samples, sample_rate):
        from vasa3d.errors import InputError

        samples = np.asarray(samples, np.float32)
        if not sample_rate or sample_rate <= 0 or not np.isfinite(samples).all():
            raise InputError("bad audio chunk")
        n = int(len(samples) * self.sample_rate / sample_rate)
        with self.lock:
            self.queue = np.concatenate([self.queue, np.interp(np.linspace(0, len(samples) - 1, n),
                                                               np.arange(len(samples)), samples).astype(np.float32)])

    def say(self, text):
        t = np.arange(self.sample_rate) / self.sample_rate
        self.push_audio((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), self.sample_rate)
        return 1.0

    def interrupt(self):
        with self.lock:
            self.queue = np.zeros(0, np.float32)

    def set_controls(self, **kw):
        from vasa3d.errors import InputError

        if "emotion" in kw and kw["emotion"] not in ("neutral", "happy", "sad", "angry", "surprised"):
            raise InputError(f"unknown emotion {kw['emotion']!r}")
        self.controls.update(kw)

    def get_frame(self, timeout=1.0):
        if self.closed:
            raise RuntimeError("closed")
        due = self.t0 + self.index / 25.0
        wait = due - time.time()
        if wait > timeout:
            time.sleep(timeout)
            return None
        time.sleep(max(0.0, wait))
        with self.lock:
            audio = np.zeros(1920, np.float32)
            take = self.queue[:1920]
            audio[: len(take)] = take
            self.queue = self.queue[1920:]
        level = int(min(255, 40 + 2000 * float(np.sqrt(np.mean(audio**2)))))
        frame = FakeFrame(self.index, self.index / 25.0, np.full((self.size, self.size, 3), level, np.uint8), audio)
        self.index += 1
        return frame

    def stats(self):
        return {"fps": 25.0, "size": self.size, "dropped": 0, "stage_ms": {}, "latency_ms": {"median": 0, "p95": 0},
                "speaking": bool(len(self.queue)), "queued_audio_s": len(self.queue) / self.sample_rate}

    def close(self):
        self.closed = True


def fake_engine(path, size):
    return FakeEngine(64)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn in a thread; ``request`` returns (status, parsed JSON or bytes)."""

    def __init__(self, app, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.port = free_port()
        self.host = host
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        headers = dict(headers or {})
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, ctype = r.status, r.read(), r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("content-type", "")
        return status, (json.loads(raw) if "json" in ctype else raw)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def avatars_dir(tmp_path):
    folder = tmp_path / "avatars"
    folder.mkdir()
    (folder / "tiny.vasa3d").write_bytes(b"not read by the fake engine")
    return folder
