"""Shared check of the diffusion generator's streaming contract (used by the log-mel and wav2vec2 tests)."""

import numpy as np

from vasa3d.motion.diffusion import DiffusionStream, diffusion_motion


def assert_stream_matches_offline(model, x: np.ndarray, sr: int, cfg, encoder=None, chunk: int = 160,
                                  lookahead_s: float = 0.1):
    """Feed ``x`` in ``chunk``-sample pieces: frames come out within ``lookahead_s`` of the audio, and the
    whole stream equals the offline call bit for bit.  Returns the offline motion."""
    offline = diffusion_motion(x, sr, model, cfg, encoder)
    assert len(offline) == int(np.ceil(len(x) / sr * 25 - 1e-6))
    stream = DiffusionStream(model, sr, cfg, encoder)
    parts, emitted = [], 0
    for start in range(0, len(x), chunk):
        part = stream.push(x[start:start + chunk])
        parts.append(part)
        emitted += len(part)
        audio_time = min(start + chunk, len(x)) / sr
        assert emitted >= int(np.floor((audio_time - lookahead_s) * 25 + 1e-9)) + 1
    parts.append(stream.flush())
    np.testing.assert_array_equal(np.concatenate([p.z_dyn for p in parts]), offline.z_dyn)
    np.testing.assert_array_equal(np.concatenate([p.z_pose for p in parts]), offline.z_pose)
    return offline
