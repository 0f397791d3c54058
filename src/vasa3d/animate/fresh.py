"""Training frames made as training goes: an endless stream from the portrait animator.

The paper trains on up to 10 hours of generated video (about a million
frames, each seen about once); a dataset on disk holds a few thousand, each
seen tens of times.  :class:`FreshFrames` drives the animator with new motion
for every frame a training step asks for, so the number of different frames
grows with the run instead of being fixed before it.

Draw ``k`` (the ``k``-th training frame of the run) is a pure function of
``(seed, k)``: the stream is cut into clips of ``clip_frames`` frames of
motion, each clip's motion is made from its own seed by the same generators
as ``vasa3d synth`` (:func:`~vasa3d.animate.random_motion.random_motion`,
:func:`~vasa3d.animate.talking_motion.talking_motion`, or a mix), and within
a window of ``window_clips`` clips the draws visit every frame once in an
order fixed by the seed, so that neighbouring steps see different clips.
Frame ``k`` is therefore the same frame whatever the order it is asked in,
the number of worker processes, or the step a run was resumed at.

Items are :class:`~vasa3d.animate.dataset.FrameSample`, quantised as the
on-disk dataset stores them (``uint8`` colour and mask), so a fresh frame is
the frame ``vasa3d synth`` would store for the same latents.  Held-out
frames stay a fixed dataset on disk.

Example:
    >>> fresh = FreshFrames(animator, fit.camera, seed=0, motion="mixed", workers=4)
    >>> samples = fresh.take(0, 4)      # draws 0..3, rendered ahead by 4 processes
    >>> fresh.close()
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from vasa3d.animate.dataset import FrameSample
from vasa3d.animate.workers import start_pool
from vasa3d.errors import InputError
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera

__all__ = ["FreshFrames", "FreshMotion", "FreshSample", "fresh_workers"]

MotionKind = Literal["random", "talking", "mixed"]
#: offset of fresh draws' ``FrameSample.index``, so that they never read as a dataset frame's index
FRESH_INDEX_BASE = 1 << 40


@dataclass
class FreshSample(FrameSample):
    """A :class:`~vasa3d.animate.dataset.FrameSample` of the stream, with the training region when the stream
    has a ``region`` function: ``(H, W, 1) float32`` (computed by the workers, beside the frame)."""

    region: torch.Tensor | None = None


RegionFn = Callable[[torch.Tensor, torch.Tensor, Camera], torch.Tensor]
"""``region(z_dyn (Dd,), z_pose (Dp,), camera) -> (H, W, 1)``: the part of a frame that training compares."""


def fresh_workers(requested: int) -> int:
    """Worker processes for ``requested`` (``-1``: one per CPU core this process may use, but one; at least 1)."""
    if requested >= 0:
        return int(requested)
    from vasa3d.animate.synthesize import default_workers

    return max(1, default_workers() - 1)


class FreshMotion:
    """The latents of every draw of an endless stream: ``motion.latents(k) -> (z_dyn (Dd,), z_pose (Dp,))``.

    Args:
        seed: fixes everything.
        kind: ``random`` (wide poses and expressions), ``talking`` (speech-driven) or ``mixed`` (each clip
            one or the other, ``talking`` of them talking).
        clip_frames: frames of motion made at once from one seed (longer clips cost less per frame for the
            talking generator, which speaks whole sentences).
        window_clips: clips whose frames are shuffled together; draws ``[w W, (w + 1) W)`` with
            ``W = clip_frames * window_clips`` visit the frames of clips ``[w window_clips, (w + 1) window_clips)``
            once each.
        fps: frame rate of the motion.
        talking: share of talking clips with ``kind="mixed"``.
    """

    def __init__(self, seed: int = 0, kind: MotionKind = "mixed", clip_frames: int = 250, window_clips: int = 16,
                 fps: float = 25.0, talking: float = 0.5) -> None:
        if kind not in ("random", "talking", "mixed"):
            raise InputError(f"fresh-frame motion must be random, talking or mixed, not {kind!r}")
        if clip_frames < 1 or window_clips < 1:
            raise ValueError("clip_frames and window_clips must be at least 1")
        self.seed, self.kind, self.fps, self.talking = int(seed), kind, float(fps), float(talking)
        self.clip_frames, self.window_clips = int(clip_frames), int(window_clips)
        self._clips: OrderedDict[int, MotionLatent] = OrderedDict()
        self._orders: OrderedDict[int, np.ndarray] = OrderedDict()

    @property
    def window(self) -> int:
        """Draws per window."""
        return self.clip_frames * self.window_clips

    def locate(self, k: int) -> tuple[int, int]:
        """``(clip, frame within the clip)`` of draw ``k``."""
        if k < 0:
            raise IndexError(f"draw {k} is negative")
        w, j = divmod(int(k), self.window)
        if w not in self._orders:
            self._orders[w] = np.random.default_rng([self.seed, 8117, w]).permutation(self.window)
            while len(self._orders) > 2:
                self._orders.popitem(last=False)
        j = int(self._orders[w][j])
        return w * self.window_clips + j // self.clip_frames, j % self.clip_frames

    def clip_is_talking(self, clip: int) -> bool:
        if self.kind != "mixed":
            return self.kind == "talking"
        return bool(np.random.default_rng([self.seed, 8118, clip]).random() < self.talking)

    def clip(self, clip: int) -> MotionLatent:
        """The motion of clip ``clip`` (``clip_frames`` frames), made from its own seed."""
        if clip in self._clips:
            self._clips.move_to_end(clip)
            return self._clips[clip]
        from vasa3d.animate.random_motion import random_motion
        from vasa3d.animate.talking_motion import talking_motion

        clip_seed = int(np.random.default_rng([self.seed, 8119, clip]).integers(2**31))
        make = talking_motion if self.clip_is_talking(clip) else random_motion
        motion = make(self.clip_frames, seed=clip_seed, fps=self.fps)
        self._clips[clip] = motion
        while len(self._clips) > 2 * self.window_clips:  # a window and the next: draws near a window's edge
            self._clips.popitem(last=False)
        return motion

    def latents(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(z_dyn (Dd,) float32, z_pose (Dp,) float32)`` of draw ``k``."""
        clip, i = self.locate(k)
        m = self.clip(clip)
        return np.asarray(m.z_dyn[i], np.float32), np.asarray(m.z_pose[i], np.float32)

    def describe(self) -> dict:
        return {"seed": self.seed, "motion": self.kind, "clip_frames": self.clip_frames,
                "window_clips": self.window_clips, "fps": self.fps, "talking": self.talking}


# ---------------------------------------------------------------- worker processes (animate/workers.py)
_WORKER: dict = {}  # per worker process: the stream, unpickled once at the worker's start


def _worker_init(frames: "FreshFrames") -> None:
    import signal

    # SIGTERM (Pool.terminate() at the end of training) keeps its default: the worker ends at once, silently
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle
    torch.set_num_threads(1)
    _WORKER["frames"] = frames


def _worker_clip(clip: int) -> MotionLatent:
    return _WORKER["frames"].motion.clip(clip)


def _worker_render(k: int, z_dyn: np.ndarray, z_pose: np.ndarray):
    return _WORKER["frames"].render(k, z_dyn, z_pose)


class FreshFrames:
    """An endless stream of training frames from a portrait animator; draw ``k`` is a pure function of ``(seed, k)``.

    Args:
        animator: any :class:`~vasa3d.animate.animator.Animator` (``(z_dyn, z_pose, camera) -> (rgb, mask)``).
        camera: the camera of every frame (the portrait's, as ``vasa3d synth`` uses; distance varies through
            the latent's log-scale).
        seed: fixes the motion of every draw.
        motion: ``random``, ``talking`` or ``mixed`` (see :class:`FreshMotion`).
        workers: processes that render draws ahead of the trainer (0: render in this process when asked;
            -1: one per CPU core but one).
        prefetch: draws rendered ahead (default: 4 per worker); bounds the memory the queue holds.
        clip_frames, window_clips: see :class:`FreshMotion`.

    ``fresh[k]`` renders draw ``k`` here; ``fresh.take(start, n)`` returns draws ``start .. start+n-1``, from the
    workers' queue when they asked for the draws in order (a training run), starting it over elsewhere
    (a resumed run).  ``close()`` ends the workers (``take`` starts them again).
    """

    def __init__(self, animator: Callable, camera: Camera, seed: int = 0, motion: MotionKind = "mixed",
                 workers: int = 0, prefetch: int | None = None, clip_frames: int = 250, window_clips: int = 16) -> None:
        self.animator = animator
        self.camera = camera
        self.motion = FreshMotion(seed, motion, clip_frames, window_clips)
        self.workers = fresh_workers(workers)
        self.prefetch = int(prefetch) if prefetch is not None else 4 * max(1, self.workers)
        self.width, self.height = self.camera.width, self.camera.height
        self._pool = None
        self._pending: deque = deque()
        self._clip_tasks: dict[int, dict] = {}
        self._next_submit = 0
        self.region: RegionFn | None = None
        self.waited_s = 0.0
        """seconds ``take`` has spent waiting for the workers (training time lost to the animator)"""

    # ------------------------------------------------------------------ one draw
    def set_region(self, region: RegionFn | None) -> None:
        """Have every draw come with ``region(z_dyn, z_pose, camera)`` (the trainer's head region), computed where
        the frame is rendered, so the training process does not spend a step's time on it.  Workers start with
        it: running ones are ended (the next :meth:`take` starts them again)."""
        self.close()
        self.region = region

    def raw(self, k: int) -> tuple:
        """Draw ``k`` as stored: ``rgb (H, W, 3) uint8``, ``mask (H, W) uint8``, ``z_dyn``, ``z_pose`` (float32),
        and its region ``(H, W, 1) float32`` (None without a region function)."""
        return self.render(k, *self.motion.latents(k))

    def render(self, k: int, z_dyn: np.ndarray, z_pose: np.ndarray):
        """Draw ``k``'s frame for its latents, as :meth:`raw` returns it."""
        from vasa3d.animate.dataset import _as_mask_u8

        rgb, mask = self.animator(z_dyn, z_pose, self.camera)
        H, W = self.height, self.width
        if rgb.shape != (H, W, 3) or mask.shape[:2] != (H, W):
            raise ValueError(f"draw {k}: the animator made {rgb.shape}/{mask.shape}, the camera is {W}x{H}")
        region = None
        if self.region is not None:
            region = self.region(torch.from_numpy(z_dyn), torch.from_numpy(z_pose), self.camera)
            region = region.detach().cpu().float().reshape(H, W, 1).numpy()
        return np.asarray(rgb, np.uint8), _as_mask_u8(mask.reshape(H, W)), z_dyn, z_pose, region

    def sample(self, k: int, raw) -> FreshSample:
        """A :class:`FreshSample` of draw ``k`` from its :meth:`raw` arrays, as :class:`FrameDataset` reads one."""
        rgb, mask, z_dyn, z_pose, region = raw
        c = self.camera
        return FreshSample(
            image=torch.from_numpy(rgb.astype(np.float32) / 255.0),
            mask=torch.from_numpy(mask.astype(np.float32)[..., None] / 255.0),
            z_dyn=torch.from_numpy(z_dyn.copy()), z_pose=torch.from_numpy(z_pose.copy()),
            camera=Camera(c.K.detach().cpu().float().clone(), c.world_to_cam.detach().cpu().float().clone(),
                          c.width, c.height),
            index=FRESH_INDEX_BASE + int(k),
            region=torch.from_numpy(region) if region is not None else None,
        )

    def __getitem__(self, k: int) -> FreshSample:
        return self.sample(k, self.raw(k))

    # ------------------------------------------------------------------ the stream
    def take(self, start: int, n: int) -> list[FreshSample]:
        """Draws ``start .. start + n - 1``, in order."""
        if self.workers == 0:
            return [self[k] for k in range(start, start + n)]
        import time

        t = time.perf_counter()
        if self._pool is None or not self._pending or self._pending[0][0] != start:
            self._restart(start)
        out = []
        for k in range(start, start + n):
            got, result = self._pending.popleft()
            assert got == k
            out.append(self.sample(k, result.get()))
            self._submit()
        self.waited_s += time.perf_counter() - t
        return out

    def _restart(self, start: int) -> None:
        if self._pool is None:
            # not forked from the trainer: it has run OpenMP (torch, numba) by now, and GNU OpenMP ends a forked
            # child that uses it ("fork() called from a process already using GNU OpenMP"); see animate/workers.py
            self._pool = start_pool(self.workers, _worker_init, (self,))
        self._pending.clear()  # results of draws nobody will ask for are dropped when they arrive
        self._next_submit = start
        for _ in range(self.prefetch):
            self._submit()

    def _submit(self) -> None:
        """Queue the next draw.  Clip motion is made once, by a worker, for a window and the next one ahead:
        each worker making the clips its draws need would make every clip once per worker."""
        k = self._next_submit
        clip, i = self.motion.locate(k)
        window = clip // self.motion.window_clips
        for w in (window, window + 1):
            if w not in self._clip_tasks:
                first = w * self.motion.window_clips
                self._clip_tasks[w] = {c: self._pool.apply_async(_worker_clip, (c,))
                                       for c in range(first, first + self.motion.window_clips)}
        for w in [w for w in self._clip_tasks if w < window]:
            del self._clip_tasks[w]
        task = self._clip_tasks[window][clip]
        motion = task if isinstance(task, MotionLatent) else task.get()
        self._clip_tasks[window][clip] = motion
        z_dyn = np.asarray(motion.z_dyn[i], np.float32)
        z_pose = np.asarray(motion.z_pose[i], np.float32)
        self._pending.append((k, self._pool.apply_async(_worker_render, (k, z_dyn, z_pose))))
        self._next_submit += 1

    def close(self) -> None:
        """End the worker processes (a later :meth:`take` starts new ones)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
        self._pool = None
        self._pending.clear()
        self._clip_tasks.clear()

    def __getstate__(self) -> dict:  # what a worker gets: the stream without its pool
        state = dict(self.__dict__)
        state.update(_pool=None, _pending=deque(), _clip_tasks={})
        return state

    def __enter__(self) -> "FreshFrames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ identity
    def describe(self) -> dict:
        """JSON description: the animator, the camera and the motion."""
        describe = getattr(self.animator, "describe", None)
        animator = describe() if describe else {"animator": type(self.animator).__name__}
        cam = self.camera
        return {"animator": animator, "motion": self.motion.describe(), "width": cam.width, "height": cam.height,
                "K": np.round(cam.K.detach().cpu().numpy().astype(np.float64), 6).tolist(),
                "world_to_cam": np.round(cam.world_to_cam.detach().cpu().numpy().astype(np.float64), 6).tolist()}

    def fingerprint(self) -> str:
        """A short hash of :meth:`describe` (what a checkpoint trained with fresh frames records)."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()[:16]

