"""``LiveSession``: speech in, a talking 3D head out, on a real-time clock.

Four threads pass each frame along, so the stages overlap on a multi-core CPU:

    push_audio / say ─► SpeechTimeline ─► motion thread ─► deform thread ─► render thread ─► emitter ─► get_frame()
                        (placed at "now")  (MotionStream,    (FrozenAvatar,    (rasterize,      (holds each frame
                                           one hop / 5 ms)   emotion, barge-in) camera, size)    to its time, adds audio)

The clock. Audio time is wall time: a chunk pushed at ``t`` seconds into the
session is spoken at timeline position ``t`` (or after the speech already
waiting), and silence fills every gap, so the avatar idles (blinks, breathes,
looks around) whenever nobody speaks, with no switch between modes. Frame ``k``
shows timeline time ``k / fps`` and carries that frame's audio; it comes out
at wall time ``k / fps + delay``, where ``delay`` is the generator's 100 ms of
look-ahead plus the pipeline's budget. Audio and video leave together, so they
cannot drift apart; the latency from ``push_audio`` to the frame that shows the
chunk is ``delay`` (about 180 ms on a CPU).

Falling behind. When frames come out late, the render size steps down (to
``min_size``, and the image is scaled back up); when that is not enough, frames
whose time has passed are not drawn: the previous image is repeated with the new
audio, so sound never stutters. ``stats()`` reports all of it.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from vasa3d.errors import InputError, VasaError

from .config import LiveConfig, LiveControls
from .speech import PlayedAudio, SpeechTimeline, check_chunk

#: look-ahead of the streaming motion generators: frame t needs audio up to t + 100 ms
GENERATOR_LOOKAHEAD_S = 0.1
#: after barge-in the mouth is held at rest until the generator's own output has settled
_GATE_HOLD_S = 0.3
_TICK_S = 0.005
#: the delay may exceed its base by this much (a busy moment, the motion thread's 20 ms feeding
#: granularity) before the render size steps down for it
_DELAY_SLACK_S = 0.03


@dataclass
class LiveFrame:
    """One frame of a live session.

    Attributes:
        index: frame number since the session started.
        timestamp: ``index / fps``, seconds on the session's timeline.
        image: ``(S, S, 3)`` uint8 RGB.
        audio: ``(sample_rate / fps,)`` float32 mono: the sound that plays during this frame.
        z_dyn: ``(52,)`` and z_pose ``(7,)``: the motion latent shown.
        repeated: the image is the previous frame's (this frame was dropped to keep up).
        render_size: pixels it was rendered at before scaling to ``S``.
    """

    index: int
    timestamp: float
    image: np.ndarray
    audio: np.ndarray
    z_dyn: np.ndarray
    z_pose: np.ndarray
    repeated: bool = False
    render_size: int = 0


class _Stopped(Exception):
    pass


def _mouth_channels() -> np.ndarray:
    from vasa3d.arkit import ARKIT_NAMES

    return np.array([i for i, n in enumerate(ARKIT_NAMES) if n.startswith(("jaw", "mouth"))])


class LiveSession:
    """A live talking head: audio or text in, timestamped frames with their audio out.

    Args:
        avatar: a ``.vasa3d`` path or a loaded :class:`~vasa3d.gaussians.GaussianAvatar`.
        config: :class:`LiveConfig` (defaults: 384 px, 25 fps, 48 kHz audio out).
        controls: starting :class:`LiveControls`.

    Example::

        with LiveSession("me.vasa3d") as session:      # starts the clock
            session.say("Hello there!")
            session.push_audio(tts_chunk, 24000)        # any chunk size and rate
            session.set_controls(yaw=20, emotion="happy")
            frame = session.get_frame()                 # LiveFrame: image, audio, timestamp
            session.interrupt()                         # barge-in: back to idle at once

    Errors in anything a caller sends (NaN samples, a rate of 0, an over-long chunk,
    text with no words, a NaN camera angle) raise :class:`~vasa3d.errors.InputError`
    and change nothing: the session keeps running.
    """

    def __init__(self, avatar, config: LiveConfig | None = None, controls: LiveControls | None = None):
        from vasa3d.gaussians.inference import FrozenAvatar, best_cpu_precision
        from vasa3d.motion import MotionConfig
        from vasa3d.motion.generate import MotionStream, emotion_offsets

        self.config = cfg = (config or LiveConfig()).validate()
        if isinstance(avatar, (str, os.PathLike)):
            from vasa3d.io import load_avatar

            avatar = load_avatar(avatar)
        if cfg.device == "cuda" and not torch.cuda.is_available():
            raise InputError("device 'cuda' was asked for but no CUDA GPU is available; use device='auto' or 'cpu'")
        device = torch.device("cuda" if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
                              else "cpu")
        avatar = avatar.to(device).eval()
        precision = cfg.precision
        if precision == "auto":
            precision = best_cpu_precision() if device.type == "cpu" else "float32"
        self.device = device
        self.frozen = FrozenAvatar(avatar, precision)
        self.precision = self.frozen.precision
        self.base_camera = avatar.camera
        self.target = avatar.head_center.detach().cpu().reshape(3)
        self._bg_spec = None
        self._bg_images: dict[int, np.ndarray] = {}
        bg = avatar.background.detach().cpu().tolist()
        if cfg.background:
            from vasa3d.render.composite import parse_background

            self._bg_spec = parse_background(cfg.background)
            if self._bg_spec.kind == "colour":
                bg = list(self._bg_spec.colour)
            else:  # an image: render over black, then lay the head over the picture
                bg = [0.0, 0.0, 0.0]
                self._background_image(cfg.size)  # a bad image fails here, before the session starts
        self.background = torch.tensor(bg, dtype=torch.float32, device=device)
        self.controls = (controls or LiveControls(size=cfg.size)).validated()
        self.rate = cfg.sample_rate
        self.spf = cfg.samples_per_frame
        budget = cfg.pipeline_budget_s or (0.04 if device.type == "cuda" else 0.05)
        self.base_delay_s = GENERATOR_LOOKAHEAD_S + budget
        self.delay_s = self.base_delay_s  # grows when the machine cannot meet the budget (see _adapt)
        self._ready_lag: deque[float] = deque(maxlen=50)  # s from a frame's time to its image being ready

        c = self.controls
        self.stream = MotionStream(self.rate, MotionConfig(
            generator=cfg.generator, seed=cfg.seed, fps=cfg.fps, gaze=c.gaze,
            motion_intensity=c.motion_intensity, emotion=c.emotion, emotion_intensity=c.emotion_intensity))
        # the face's emotion offsets are added per frame in the deform thread (so a change shows within
        # two frames); the stream keeps only the emotion's effect on head motion
        self._emotion_offsets = emotion_offsets(c.emotion, c.emotion_intensity)
        self.stream.offsets[:] = 0.0
        self._mouth = _mouth_channels()

        self.speech = SpeechTimeline(self.rate, cfg.max_queued_s)
        self.played = PlayedAudio()
        self._lock = threading.Lock()
        self._consumed = 0  # timeline samples fed to the motion generator
        self._speaking = False
        self._pending_motion: dict = {}
        self._gate: tuple[int, int] | None = None  # frames [k0, k_end) with the mouth held at rest
        self._next_deform = 0
        self._next_emit = 0
        self._render_size = self.controls.size
        self._t0 = 0.0
        self._started = False
        self._stop = threading.Event()
        self._error: BaseException | None = None
        realtime = cfg.realtime
        self._latents: queue.Queue = queue.Queue(maxsize=256 if realtime else 3)
        self._to_render: queue.Queue = queue.Queue(maxsize=1)
        self._done: dict[int, tuple] = {}
        self._skipped: set[int] = set()
        self._done_cv = threading.Condition()
        # a reader may fall up to 2 s behind before the oldest frames are thrown away (counted as overflow)
        self._out: queue.Queue = queue.Queue(maxsize=int(2 * cfg.fps))
        self._probes: deque[tuple[int, float]] = deque()
        self._latency: deque[float] = deque(maxlen=300)
        self._stage: dict[str, deque] = {k: deque(maxlen=50) for k in ("motion", "deform", "render", "convert")}
        self._emitted: deque[tuple[float, bool]] = deque(maxlen=200)
        self._counts = {"frames": 0, "dropped": 0, "late": 0, "overflow": 0}
        self._cameras: dict[tuple, object] = {}
        self._threads: list[threading.Thread] = []
        self._next_latent = 0
        self._last_image: np.ndarray | None = None
        self._ready: deque[tuple] = deque()  # latents made but not yet drawn (not real time)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "LiveSession":
        """Start the clock and the worker threads (idempotent)."""
        if self._started:
            return self
        self._started = True
        self._warm_up()
        self._t0 = time.monotonic()
        if self.config.deform_threads:
            torch.set_num_threads(self.config.deform_threads)
        if not self.config.realtime:  # get_frame() runs the stages itself
            return self
        for name, fn in (("motion", self._motion_loop), ("deform", self._deform_loop),
                         ("render", self._render_loop), ("emit", self._emit_loop)):
            t = threading.Thread(target=self._guard, args=(fn,), name=f"vasa3d-live-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _warm_up(self) -> None:
        """One frame through every stage before the clock starts (the first call compiles kernels)."""
        from vasa3d.render import rasterize

        for _ in range(2):
            g = self.frozen(torch.zeros(self.frozen.avatar.dyn_dim), torch.zeros(self.frozen.avatar.pose_dim))
            size = self.controls.size
            rasterize(g, self._camera(self.controls, size), size, size, background=self.background,
                      backend=self.config.backend)

    def close(self) -> None:
        """Stop the threads; frames not yet read are dropped."""
        self._stop.set()
        with self._done_cv:
            self._done_cv.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = []

    def __enter__(self) -> "LiveSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def sample_rate(self) -> int:
        return self.rate

    @property
    def running(self) -> bool:
        return self._started and not self._stop.is_set()

    def _guard(self, fn) -> None:
        try:
            fn()
        except _Stopped:
            pass
        except BaseException as exc:  # surfaces in get_frame(); the other threads stop too
            self._error = exc
            self._stop.set()
            with self._done_cv:
                self._done_cv.notify_all()

    # ------------------------------------------------------------------ input
    def _now_pos(self) -> int:
        """Timeline position of "now": the wall clock, or (not real time) what the generator has consumed."""
        if self.config.realtime and self._started:
            return int((time.monotonic() - self._t0) * self.rate)
        return self._consumed

    def push_audio(self, samples, sample_rate: int) -> float:
        """Queue speech: ``(N,)`` or ``(N, C)`` samples at ``sample_rate`` (any size, any rate 4-384 kHz).

        Returns the timeline time (s) at which it will be heard. A stream of chunks pushed as
        they arrive plays back to back; a gap in arrival becomes a pause.
        """
        x = check_chunk(samples, sample_rate, self.config.max_chunk_s)
        if int(sample_rate) != self.rate and len(x):
            from vasa3d.motion.audio import resample

            x = resample(x, int(sample_rate), self.rate).astype(np.float32)
        return self._schedule(x)

    def _schedule(self, x: np.ndarray) -> float:
        now = self._now_pos()
        start = self.speech.schedule(x, now)
        with self._lock:
            if len(x):
                self._probes.append((start, time.monotonic()))
                if self._gate is not None:  # new speech after a barge-in: let the mouth move for it
                    k0, k_end = self._gate
                    first = int(start / self.spf) - 1
                    self._gate = (k0, max(k0, min(k_end, first)))
        return start / self.rate

    def say(self, text: str, voice: str | None = None) -> float:
        """Speak ``text`` with the built-in synthesizer; returns the seconds of speech queued."""
        from vasa3d.motion.synth import synthesize

        if not isinstance(text, str):
            raise InputError("say() takes a text string")
        if len(text) > 5000:
            raise InputError(f"text is {len(text)} characters long; say at most 5000 at a time")
        speech = synthesize(text, voice=voice or self.config.voice, sr=min(self.rate, 48000))
        if not len(speech.samples) or float(np.abs(speech.samples).max()) < 1e-4:
            raise InputError("the text has no words to speak")
        x = speech.samples.astype(np.float32)
        if speech.sample_rate != self.rate:
            from vasa3d.motion.audio import resample

            x = resample(x, speech.sample_rate, self.rate).astype(np.float32)
        self._schedule(x)
        return len(x) / self.rate

    def interrupt(self) -> bool:
        """Barge-in: drop the speech still waiting, silence what was not yet heard, close the mouth.

        Returns True if there was speech to drop. The mouth is at rest within about
        200 ms (two to four frames) and new speech may be pushed right away.
        """
        with self._lock:
            consumed = self._consumed
            dropped = self.speech.cut(consumed)
            was_speaking = dropped or self._speaking
            self.played.silence_from(self._next_emit * self.spf, fade=max(1, self.rate // 100))
            if was_speaking:
                k0 = self._next_deform
                k_end = int(math.ceil((consumed / self.rate + _GATE_HOLD_S) * self.config.fps))
                self._gate = (k0, max(k0, k_end))
            self._probes.clear()
        return dropped

    def set_controls(self, **changes) -> LiveControls:
        """Change camera (yaw, pitch, distance), emotion, emotion_intensity, gaze, motion_intensity or size.

        Camera and size show on the next frame drawn, emotion within two frames; gaze and
        motion intensity blend in through the motion generator. Returns the new controls.
        """
        new = self.controls.replace(**changes)
        with self._lock:
            old = self.controls
            self.controls = new
            motion = {k: getattr(new, k) for k in ("emotion", "emotion_intensity", "gaze", "motion_intensity")
                      if getattr(new, k) != getattr(old, k)}
            if motion:
                self._pending_motion.update(motion)
            if new.emotion != old.emotion or new.emotion_intensity != old.emotion_intensity:
                from vasa3d.motion.generate import emotion_offsets

                self._emotion_offsets = emotion_offsets(new.emotion, new.emotion_intensity)
            if new.size != old.size:
                self._render_size = new.size
        return new

    # ------------------------------------------------------------------ output
    def get_frame(self, timeout: float | None = None) -> LiveFrame | None:
        """The next frame, waiting up to ``timeout`` seconds (None: until one comes); None on time-out.

        Raises the error that stopped the session, if one did.
        """
        if not self._started:
            self.start()
        if not self.config.realtime:
            if self._stop.is_set():
                return None
            return self._next_frame_now()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._error is not None:
                raise VasaError(f"the live session stopped: {self._error}") from self._error
            try:
                return self._out.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():
                    return None
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def frames(self):
        """Iterate over frames until the session is closed."""
        while self.running:
            frame = self.get_frame(timeout=0.5)
            if frame is not None:
                yield frame

    def stats(self) -> dict:
        """fps, sizes, dropped/late frame counts, per-stage ms, latency ms (median, p95), speech state."""
        now = time.monotonic()
        recent = [t for t, repeated in self._emitted if now - t <= 2.0 and not repeated]
        window = min(2.0, now - self._t0) if self._started else 0.0
        lat = np.array(self._latency) * 1000.0 if self._latency else None
        return {
            "fps": len(recent) / window if window > 0.2 else 0.0,
            "size": self.controls.size,
            "render_size": self._render_size,
            "frames": self._counts["frames"],
            "dropped": self._counts["dropped"],
            "late": self._counts["late"],
            "overflow": self._counts["overflow"],
            "stage_ms": {k: (float(np.median(v)) * 1000.0 if v else 0.0) for k, v in self._stage.items()},
            "latency_ms": {"median": float(np.median(lat)) if lat is not None else None,
                           "p95": float(np.percentile(lat, 95)) if lat is not None else None},
            "delay_ms": self.delay_s * 1000.0,
            "speaking": self._speaking,
            "queued_audio_s": self.speech.queued(self._now_pos()),
            "precision": self.precision,
            "device": self.device.type,
        }

    # ------------------------------------------------------------------ threads
    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _present_time(self, k: int) -> float:
        return self._t0 + self.delay_s + k / self.config.fps

    # -- one step of each stage; the threads (real time) or get_frame (not real time) call them
    def _motion_step(self, target: int) -> list[tuple]:
        """Feed the timeline up to ``target`` to the generator; returns the new frames' latents."""
        with self._lock:
            pending, self._pending_motion = self._pending_motion, {}
        if pending:
            self.stream.set_controls(**pending)
            self.stream.offsets[:] = 0.0  # the face's emotion is added per frame (see _deform_step)
        if target <= self._consumed:
            return []
        t = time.perf_counter()
        x, speech = self.speech.take(self._consumed, target)
        self.played.append(x)
        with self._lock:
            self._consumed = target
        self._speaking = speech
        motion = self.stream.push(x)
        if len(motion):
            self._stage["motion"].append((time.perf_counter() - t) / len(motion))
        items = [(self._next_latent + i, motion.z_dyn[i], motion.z_pose[i]) for i in range(len(motion))]
        self._next_latent += len(motion)
        return items

    def _motion_loop(self) -> None:
        while True:
            self._check_stop()
            now = int((time.monotonic() - self._t0) * self.rate)
            # the generator costs a fixed overhead per call: feed it half a frame at a time (20 ms at 25 fps)
            target = now - (now - self._consumed) % (self.spf // 2)
            for item in self._motion_step(target):
                try:
                    self._latents.put_nowait(item)
                except queue.Full:  # the deform thread is far behind: this frame is dropped
                    self._mark_done(item[0], ("drop", item[1], item[2]))
            time.sleep(_TICK_S)

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            self._check_stop()
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue):
        while True:
            self._check_stop()
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                continue

    def _mark_done(self, k: int, result) -> None:
        with self._done_cv:
            if k in self._skipped:  # already shown as a repeat: too late to be of use
                self._skipped.discard(k)
                return
            self._done[k] = result
            self._done_cv.notify_all()

    def _too_late(self, k: int, cost_s: float) -> bool:
        """Would frame ``k`` come out more than a frame late even if drawn now? (then it is dropped)"""
        if not (self.config.realtime and self.config.adaptive):
            return False
        return time.monotonic() + cost_s > self._present_time(k) + 1.0 / self.config.fps

    def _face_latent(self, k: int, z_dyn: np.ndarray) -> np.ndarray:
        """The generator's ``z_dyn`` plus the current emotion, with the mouth held at rest after barge-in."""
        offsets = self._emotion_offsets
        z_dyn = np.clip(z_dyn + offsets, 0.0, 1.0).astype(np.float32)
        with self._lock:
            gate = self._gate
        if gate is not None:
            k0, k_end = gate
            if k0 <= k < k_end:
                hold = min(max((k - k0 + 1) / 2.0, 0.0), 1.0)  # two frames down to rest
                release = min(max((k_end - k) / 3.0, 0.0), 1.0)  # three frames back at the end
                f = 1.0 - min(hold, release)
                m = self._mouth
                z_dyn[m] = offsets[m] + f * (z_dyn[m] - offsets[m])
            elif k >= k_end:
                with self._lock:
                    if self._gate == gate:
                        self._gate = None
        return z_dyn

    def _deform_step(self, item: tuple, newer_waiting: bool) -> tuple:
        """Latents -> ``("gaussians", k, G, z_dyn, z_pose)``, or ``("drop", k, z_dyn, z_pose)`` when it is
        too late to be worth drawing and a newer frame waits."""
        k, z_dyn, z_pose = item
        self._next_deform = k + 1
        z_dyn = self._face_latent(k, z_dyn)
        with self._done_cv:
            skipped = k in self._skipped
        if skipped or (newer_waiting and self._too_late(k, self._cost_s())):
            return ("drop", k, z_dyn, z_pose)
        t = time.perf_counter()
        gaussians = self.frozen(torch.from_numpy(z_dyn), torch.from_numpy(z_pose))
        self._stage["deform"].append(time.perf_counter() - t)
        return ("gaussians", k, gaussians, z_dyn, z_pose)

    def _deform_loop(self) -> None:
        while True:
            out = self._deform_step(self._get(self._latents), not self._latents.empty())
            if out[0] == "drop":
                self._mark_done(out[1], ("drop", out[2], out[3]))
            else:
                self._put(self._to_render, out[1:])

    def _cost_s(self) -> float:
        d = self._stage["deform"]
        r = self._stage["render"]
        return (np.median(d) if d else 0.0) + (np.median(r) if r else 0.0)

    def _camera(self, controls: LiveControls, size: int):
        from vasa3d.pipeline import view_camera

        key = (controls.yaw, controls.pitch, controls.distance, size)
        cam = self._cameras.get(key)
        if cam is None:
            if len(self._cameras) > 64:
                self._cameras.clear()
            cam = view_camera(self.base_camera, self.target, controls.yaw, controls.pitch, size,
                              distance=controls.distance).to(self.device)
            self._cameras[key] = cam
        return cam

    def _render_step(self, item: tuple) -> tuple:
        """``(k, G, z_dyn, z_pose)`` -> ``("image", image, z_dyn, z_pose, render size)`` with the current camera."""
        from vasa3d.render import rasterize

        k, gaussians, z_dyn, z_pose = item
        controls = self.controls
        size = min(self._render_size, controls.size)
        t = time.perf_counter()
        out = rasterize(gaussians, self._camera(controls, size), size, size, background=self.background,
                        backend=self.config.backend)
        t1 = time.perf_counter()
        if self._bg_spec is not None and self._bg_spec.kind == "image":
            from vasa3d.render.composite import composite

            image = composite(out.color[0].cpu().numpy(), out.alpha[0].cpu().numpy(), self._background_image(size))
        else:
            image = (out.color[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
        if size != controls.size:
            import cv2

            image = cv2.resize(image, (controls.size, controls.size), interpolation=cv2.INTER_LINEAR)
        self._stage["render"].append(t1 - t)
        self._stage["convert"].append(time.perf_counter() - t1)
        self._ready_lag.append(time.monotonic() - self._t0 - k / self.config.fps)
        return ("image", image, z_dyn, z_pose, size)

    def _background_image(self, size: int) -> np.ndarray:
        """The background picture at ``size`` pixels (float ``(S, S, 3)``), cached per size."""
        image = self._bg_images.get(size)
        if image is None:
            from vasa3d.render.composite import load_background_image

            if len(self._bg_images) > 8:
                self._bg_images.clear()
            image = self._bg_images[size] = load_background_image(self._bg_spec.path, size)
        return image

    def _render_loop(self) -> None:
        if self.config.render_threads:
            import numba

            numba.set_num_threads(min(self.config.render_threads, numba.config.NUMBA_NUM_THREADS))
        while True:
            item = self._get(self._to_render)
            self._mark_done(item[0], self._render_step(item))

    def _frame(self, k: int, result) -> LiveFrame:
        """Frame ``k`` from its result (an image, a drop, or None when it was not ready in time)."""
        repeated = result is None or result[0] == "drop"
        if repeated:  # dropped to keep up (if it was not done in time, its image is thrown away when it comes)
            self._counts["dropped"] += 1
            if self._last_image is None:
                self._last_image = np.zeros((self.controls.size, self.controls.size, 3), np.uint8)
            image = self._last_image
            z_dyn, z_pose = (result[1], result[2]) if result is not None else (np.zeros(52, np.float32),
                                                                               np.zeros(7, np.float32))
            size = 0
        else:
            _, image, z_dyn, z_pose, size = result
            self._last_image = image
        with self._lock:
            self._next_emit = k + 1
            audio = self.played.slice(k * self.spf, (k + 1) * self.spf)
        now = time.monotonic()
        self._record_latency(k, now)
        self._emitted.append((now, repeated))
        self._counts["frames"] += 1
        return LiveFrame(k, k / self.config.fps, image, audio, z_dyn, z_pose, repeated, size)

    def _next_frame_now(self) -> LiveFrame:
        """Not real time: run every stage for the next frame in the caller's thread."""
        while not self._ready:
            self._ready.extend(self._motion_step(self._consumed + self.spf))
        out = self._deform_step(self._ready.popleft(), False)
        return self._frame(out[1], self._render_step(out[1:]))

    def _emit_loop(self) -> None:
        cfg = self.config
        k = 0
        last_adapt = time.monotonic()
        while True:
            self._check_stop()
            present = self._present_time(k)
            with self._done_cv:
                while k not in self._done:
                    self._check_stop()
                    if cfg.adaptive and time.monotonic() > present + 1.0 / cfg.fps and self._last_image is not None:
                        break  # more than a frame late: show the last image again, keep the sound going
                    self._done_cv.wait(timeout=0.01)
                result = self._done.pop(k, None)
                if result is None:
                    self._skipped.add(k)
            wait = present - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                self._check_stop()
            elif wait < -0.5 / cfg.fps:
                self._counts["late"] += 1
            frame = self._frame(k, result)
            try:
                self._out.put_nowait(frame)
            except queue.Full:  # nobody is reading: keep the newest frames
                try:
                    self._out.get_nowait()
                except queue.Empty:
                    pass
                self._out.put_nowait(frame)
                self._counts["overflow"] += 1
            if cfg.adaptive and time.monotonic() - last_adapt >= 1.0:
                self._adapt()
                last_adapt = time.monotonic()
            k += 1

    def _record_latency(self, k: int, now: float) -> None:
        end = (k + 1) * self.spf
        with self._lock:
            while self._probes and self._probes[0][0] < end:
                _, pushed = self._probes.popleft()
                self._latency.append(now - pushed)

    def _adapt(self) -> None:
        """Step the render size down when frames come out late, back up when there is room; when even
        the smallest size cannot meet the budget, let video (with its audio) come out later instead
        of dropping every frame."""
        cfg = self.config
        if len(self._ready_lag) >= 10:
            need = float(np.percentile(self._ready_lag, 90)) + 0.02
            if need > self.delay_s:
                self.delay_s = min(need, 1.5)
            elif need < self.delay_s - 0.02:  # room again (a smaller size, a quieter machine): catch up at once
                self.delay_s = max(self.base_delay_s, need)
        period = 1.0 / cfg.fps
        d = np.median(self._stage["deform"]) if self._stage["deform"] else 0.0
        r = np.median(self._stage["render"]) if self._stage["render"] else 0.0
        recent = [rep for t, rep in self._emitted if time.monotonic() - t <= 1.0]
        late_share = (sum(recent) / len(recent)) if recent else 0.0
        size = self._render_size
        want = self.controls.size
        # each stage has its own thread: the slower one sets the pace
        over_budget = self.delay_s > self.base_delay_s + _DELAY_SLACK_S
        if (late_share > 0.05 or over_budget or max(d, r) > 0.95 * period) and size > cfg.smallest_size:
            self._render_size = max(cfg.smallest_size, int(size * 0.8) // 16 * 16)
        elif late_share == 0 and not over_budget and size < want:
            bigger = min(want, int(math.ceil(size / 0.8 / 16)) * 16)
            if max(d, r * (bigger / size) ** 2) < 0.7 * period:
                self._render_size = bigger
