"""Lip sync measured on rendered video, as a viewer sees it: the lips found by mediapipe on each frame.

The motion latents say where the mouth *should* be; this module checks where it *is* in the
avatar's pixels.  The avatar speaks a clip (the built-in synthesizer's sentence by default, or the
user's recording), every frame is rendered from the front, mediapipe's face mesh finds the inner lips
on it, and two numbers come out:

* ``r``: Pearson correlation of the measured lip gap (inner lips apart, in eye distances) with the
  audio's loudness, frame by frame (the same loudness as :func:`vasa3d.motion.measure.loudness_correlation`);
* ``closures``: of the /p b m/ in the clip (exact timing from the synthesizer, a forced alignment of
  a transcript, or a timing file), how many show shut lips on some frame within 40 ms, shut meaning
  a measured gap under 10 % of the clip's widest (as the latent-level measure counts them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vasa3d.errors import InputError

__all__ = ["LipSync", "lipsync_on_video", "DEFAULT_SENTENCE"]

#: What the avatar says when no recording is given: /p b m/ in several places, pauses and open vowels.
DEFAULT_SENTENCE = ("My mother bought a lamp, a big brown map and maple syrup. "
                    "Please move both boxes, then open the window by the pool.")


@dataclass
class LipSync:
    """Lip sync of one rendered clip (see the module docstring)."""

    r: float
    """Pearson r of the measured lip gap against loudness, over frames with a face."""
    closures: int | None
    """/p b m/ with shut lips within 40 ms (None without phone timing)."""
    bilabials: int
    """/p b m/ in the clip's phone timing."""
    frames: int
    no_face: int
    """Frames on which mediapipe found no face (left out of ``r``)."""
    fps: float
    gap: np.ndarray = field(repr=False)
    """``(T,)`` measured lip gap per frame, in eye distances (NaN without a face)."""
    loudness: np.ndarray = field(repr=False)
    """``(T,)`` the audio's loudness per frame."""

    def as_dict(self) -> dict:
        return {"r": self.r, "closures": self.closures, "bilabials": self.bilabials, "frames": self.frames,
                "no_face": self.no_face}


def _measured_gaps(frames: Iterable[np.ndarray]) -> np.ndarray:
    from vasa3d.face import detect_landmarks
    from vasa3d.face import landmarks as L

    out = []
    for frame in frames:
        rgb = np.ascontiguousarray(np.asarray(frame)[..., :3])
        lm = detect_landmarks(rgb)
        out.append(np.nan if lm is None else L.lip_gap(lm) / max(L.inter_ocular(lm), 1e-9))
    return np.asarray(out, np.float64)


def lipsync_on_video(frames: Iterable[np.ndarray], samples: np.ndarray, sample_rate: int, fps: float = 25.0,
                     phonemes: Sequence[tuple[str, float, float]] | None = None) -> LipSync:
    """Measure lip sync on rendered frames against the audio they were made from.

    Args:
        frames: ``T`` RGB(A) uint8 frames, frame ``i`` at ``i / fps`` seconds.
        samples: ``(N,)`` mono audio.
        sample_rate: Hz.
        fps: frame rate of ``frames``.
        phonemes: ``[(ARPAbet phone, start_s, end_s)]`` of the audio, for the /p b m/ count (optional).

    Returns:
        :class:`LipSync`.

    Raises:
        InputError: fewer than 10 frames with a face, or lips that never move.
    """
    from vasa3d.motion.measure import closure_hits, frame_loudness

    gap = _measured_gaps(frames)
    seen = np.isfinite(gap)
    if seen.sum() < 10:
        raise InputError(f"mediapipe found a face on {int(seen.sum())} of {len(gap)} rendered frames; "
                         "the avatar's front view shows no face to measure lips on")
    loud = frame_loudness(np.asarray(samples, np.float32), sample_rate, len(gap), fps)
    g, lo = gap[seen], loud[seen]
    r = 0.0 if g.std() < 1e-9 or lo.std() < 1e-12 else float(np.corrcoef(g, lo)[0, 1])
    closures, bilabials = None, 0
    if phonemes is not None:
        filled = np.where(seen, gap, np.nanmax(gap))  # a frame without a face counts as open
        hits = closure_hits(filled, fps, list(phonemes))
        closures, bilabials = int(np.sum(hits)), int(len(hits))
    return LipSync(r=r, closures=closures, bilabials=bilabials, frames=int(len(gap)),
                   no_face=int((~seen).sum()), fps=float(fps), gap=gap, loudness=loud)
