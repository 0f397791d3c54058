"""Talking motion for training frames: speech-driven faces, and a mix with wide random motion.

The paper makes its training frames by driving VASA-1 with speech clips, so
its avatar learns the faces and head motion of talking.  Without recorded
clips, :func:`talking_motion` does the same with what ships here: the built-in
formant synthesizer speaks sentences in voices of random pitch, speed and
vocal-tract size, and the phonetic audio-to-motion generator (given the exact
phone timing) turns each clip into latents under a random emotion, emotion
intensity, gaze direction and motion intensity, as VASA-1's control signals
would.

Talking alone barely turns the head, so :func:`mixed_motion` interleaves
talking blocks with blocks of :func:`~vasa3d.animate.random_motion.random_motion`
(yaw +-40, pitch +-20, wide expressions), which give the side views.  Blocks
are as long as the dataset split's blocks, so held-out frames come from both
kinds.  Everything is a pure function of ``seed``.
"""

from __future__ import annotations

import numpy as np

from vasa3d.motion.latent import MotionLatent

__all__ = ["SENTENCES", "mixed_motion", "talking_motion"]

#: what the synthetic speakers say: every English phoneme, many p/b/m closures, questions and exclamations
SENTENCES: tuple[str, ...] = (
    "Good morning! Today we are going to build a talking head from a single photo.",
    "Could you bring me the blue map from the bottom shelf, please?",
    "My brother played the piano while the band packed up the van.",
    "She thought the weather would be fine, but it rained all through the evening.",
    "Which way is the museum? I think we missed the turn by the bridge.",
    "Five big jugs of milk were moved from the porch to the kitchen.",
    "I never expected such a warm welcome. Thank you all so much!",
    "The judge said that every voice should be heard before the vote.",
    "Really? You swam across the whole lake in the middle of winter?",
    "Please remember to measure the room before we buy a new sofa.",
    "Our team will meet at nine, then we can review the budget together.",
    "Look at those sheep on the hill! They seem happy in the sunshine.",
    "Nothing is impossible when people work patiently and share their ideas.",
    "We should check the numbers again, because something does not add up.",
    "Maybe the best part of the trip was the boat ride past the old harbour.",
    "Honestly, I am a little worried about the exam, but I will do my best.",
)


def _voice(rng: np.random.Generator):
    from vasa3d.motion.synth import Voice

    f0 = float(rng.uniform(95.0, 250.0))
    tract = float(np.interp(f0, [95.0, 250.0], [0.97, 1.18]) + rng.uniform(-0.03, 0.03))
    return Voice("random", f0, f0 * float(rng.uniform(0.7, 0.8)), tract, float(rng.uniform(1.0, 1.25)),
                 float(rng.uniform(0.03, 0.09)))


def talking_motion(n_frames: int, seed: int = 0, fps: float = 25.0) -> MotionLatent:
    """``n_frames`` of speech-driven motion (schema ``arkit52+pose``), a pure function of ``seed``.

    Each clip is one or two sentences from :data:`SENTENCES` in a random voice
    and speaking rate, turned into motion with a random emotion (neutral, happy,
    sad, angry, surprised; intensity 0.3-1), gaze (+-15 degrees yaw, +-10 pitch),
    motion intensity (0.8-1.6) and head distance (0.9-1.1).  Clips are joined until ``n_frames`` are made.
    """
    from vasa3d.motion import MotionConfig, audio_to_motion
    from vasa3d.motion.config import EMOTIONS
    from vasa3d.motion.generate import concat_latents
    from vasa3d.motion.synth import synthesize

    n = int(n_frames)
    rng = np.random.default_rng([int(seed), 7129])
    rng_d = np.random.default_rng([int(seed), 7130])  # its own stream: the rest stays as it was
    parts, total = [], 0
    while total < n:
        picks = rng.choice(len(SENTENCES), size=int(rng.integers(1, 3)), replace=False)
        text = " ".join(SENTENCES[int(k)] for k in picks)
        clip_seed = int(rng.integers(2**31))
        speech = synthesize(text, voice=_voice(rng), rate=float(rng.uniform(0.85, 1.2)), seed=clip_seed)
        config = MotionConfig(
            fps=fps, seed=clip_seed, emotion=str(rng.choice(EMOTIONS)),
            emotion_intensity=float(rng.uniform(0.3, 1.0)), motion_intensity=float(rng.uniform(0.8, 1.6)),
            gaze=(float(rng.uniform(-15, 15)), float(rng.uniform(-10, 10))),
            head_distance=float(np.exp(rng_d.uniform(-0.1, 0.1))),
        )
        m = audio_to_motion(speech.samples, speech.sample_rate, config, phonemes=speech.phonemes)
        parts.append(m)
        total += len(m)
    motion = concat_latents(parts, fps)
    return motion.slice(0, n)


def mixed_motion(n_frames: int, seed: int = 0, fps: float = 25.0, talking: float = 0.5,
                 block: int = 50) -> MotionLatent:
    """``n_frames`` alternating blocks of :func:`talking_motion` and wide random motion.

    Args:
        talking: share of the frames that are talking motion (0: all random, 1: all talking).
        block: frames per block (the dataset split's block length, so both kinds are held out).
    """
    from vasa3d.animate.random_motion import random_motion

    n = int(n_frames)
    n_blocks = -(-n // block)
    is_talk = np.zeros(n_blocks, bool)
    is_talk[: int(round(talking * n_blocks))] = True
    is_talk = np.random.default_rng([int(seed), 311]).permutation(is_talk)
    talk = talking_motion(int(is_talk.sum()) * block, seed=seed, fps=fps)
    wide = random_motion(int((~is_talk).sum()) * block, seed=seed, fps=fps)
    z_dyn, z_pose, it, iw = [], [], 0, 0
    for t in is_talk:
        src, k = (talk, it) if t else (wide, iw)
        z_dyn.append(src.z_dyn[k * block:(k + 1) * block])
        z_pose.append(src.z_pose[k * block:(k + 1) * block])
        if t:
            it += 1
        else:
            iw += 1
    return MotionLatent(np.concatenate(z_dyn)[:n], np.concatenate(z_pose)[:n], fps, wide.schema,
                        wide.dyn_names, wide.pose_names)
