"""Build a training dataset by driving a portrait animator with a motion sequence."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from vasa3d.animate.animator import Animator
from vasa3d.animate.dataset import DatasetPlan, FrameDataset, cameras_for, write_dataset
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera

__all__ = ["synthesize_dataset", "default_workers"]


def default_workers() -> int:
    """One worker per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _AnimatorFrames:
    """The frame source of :func:`synthesize_dataset`: ``source(i) -> (rgb, mask)`` of latent ``i``.

    A class, not a closure, so that it pickles: the dataset workers are started from a
    clean server process (not forked from this threaded one) and receive it by pickle.
    """

    def __init__(self, animator: Animator, motion: MotionLatent, cameras: Camera):
        self.animator, self.motion, self.cameras = animator, motion, cameras

    def __call__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.animator(self.motion.z_dyn[i], self.motion.z_pose[i], self.cameras[i])


def synthesize_dataset(
    animator: Animator,
    motion: MotionLatent,
    cameras: Camera | Sequence[Camera],
    root: str | os.PathLike,
    seed: int = 0,
    workers: int | None = None,
    quiet: bool = False,
    shard_size: int = 32,
    test_fraction: float = 0.05,
    portrait: np.ndarray | None = None,
    source: dict | None = None,
) -> FrameDataset:
    """Render one frame per latent of ``motion`` and store them as a dataset in ``root``.

    Args:
        animator: any :class:`~vasa3d.animate.animator.Animator`.
        motion: ``T`` frames of latents.
        cameras: one camera for every frame, or a list of ``T``.
        root: the dataset folder (created; an interrupted build there is resumed).
        seed: fixes the train/test split.
        workers: processes rendering shards in parallel (default: one per core).
        portrait: the aligned portrait, stored beside the frames.
        source: extra JSON recorded in the manifest (how the motion was made).

    Returns:
        the finished :class:`~vasa3d.animate.dataset.FrameDataset`.
    """
    cams = cameras_for(cameras, len(motion))
    describe = getattr(animator, "describe", None)
    info = {"kind": "animator", **(describe() if describe else {"animator": type(animator).__name__})}
    info.update(source or {})
    plan = DatasetPlan(motion, cams, seed=seed, shard_size=shard_size, test_fraction=test_fraction, source=info)
    if portrait is None:
        p = getattr(animator, "portrait", None)
        portrait = (np.clip(p, 0, 1) * 255).round().astype(np.uint8) if isinstance(p, np.ndarray) else None

    frame = _AnimatorFrames(animator, motion, plan.cameras)
    frame(0)  # compile the kernels once here: the workers then load them from numba's cache
    return write_dataset(root, plan, frame, portrait=portrait, workers=workers or default_workers(), quiet=quiet,
                         description="synthesizing frames")
