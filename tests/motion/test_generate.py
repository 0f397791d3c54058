import numpy as np
import pytest

from vasa3d.errors import InputError
from vasa3d.motion import MotionConfig, MotionStream, audio_to_motion

from .conftest import SR, syllables


def loudness_at_frames(x: np.ndarray, sr: int, frames: int, fps: float = 25.0) -> np.ndarray:
    hop = int(sr / fps)
    out = np.zeros(frames)
    for i in range(frames):
        seg = x[max(0, i * hop - hop // 2): i * hop + hop // 2]
        out[i] = np.sqrt(np.mean(seg.astype(np.float64) ** 2)) if len(seg) else 0.0
    return out


def test_jaw_follows_loudness_and_closes_in_silence():
    speech = syllables(4.0)
    x = np.concatenate([speech, np.zeros(2 * SR, np.float32) + 1e-4 * np.random.default_rng(1).standard_normal(2 * SR).astype(np.float32)])
    m = audio_to_motion(x, SR, MotionConfig(generator="loudness"))
    assert len(m) == 150 and m.fps == 25
    jaw = m.column("jawOpen")
    loud = loudness_at_frames(x, SR, len(m))
    r = np.corrcoef(jaw[:100], loud[:100])[0, 1]
    assert r >= 0.6, r
    assert jaw[:100].max() > 0.4
    silent = slice(110, 150)
    assert jaw[silent].max() < 0.01
    # the head keeps moving (breathing, sway) in silence
    steps = np.abs(np.diff(m.z_pose[silent, :3], axis=0)).max(axis=1)
    assert np.all(steps > 1e-6)


def test_stream_equals_offline_for_any_chunking():
    x = syllables(3.0)
    offline = audio_to_motion(x, SR)
    rng = np.random.default_rng(0)
    for rate in (SR,):
        stream = MotionStream(rate)
        parts, i = [], 0
        while i < len(x):
            n = int(rng.integers(1, 2000))
            parts.append(stream.push(x[i:i + n]))
            i += n
        parts.append(stream.flush())
        z_dyn = np.concatenate([p.z_dyn for p in parts])
        z_pose = np.concatenate([p.z_pose for p in parts])
        np.testing.assert_array_equal(z_dyn, offline.z_dyn)
        np.testing.assert_array_equal(z_pose, offline.z_pose)


@pytest.mark.parametrize("recognizer", ["none", "allphone"])
def test_stream_lookahead_is_at_most_100ms(recognizer):
    from vasa3d.motion.synth import synthesize

    x = synthesize("Hello! Maybe my mom bought a map.", voice="male").samples
    stream = MotionStream(SR, MotionConfig(recognizer=recognizer))
    emitted = 0
    for start in range(0, len(x), 160):
        emitted += len(stream.push(x[start:start + 160]))
        audio_time = min(start + 160, len(x)) / SR
        # every frame whose time is at least 100 ms behind the audio is out
        assert emitted >= int(np.floor((audio_time - 0.1) * 25 + 1e-9)) + 1


def test_blinks_rate_and_duration_in_silence():
    rates, durations = [], []
    for seed in range(4):
        x = np.zeros(SR * 60, np.float32)
        m = audio_to_motion(x, SR, MotionConfig(seed=seed))
        b = m.column("eyeBlinkLeft")
        closed = b > 0.5
        starts = np.flatnonzero(closed[1:] & ~closed[:-1])
        rates.append(len(starts))
        above = b > 0.2  # gaze-down lowers the lids a little too
        runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]]))))[::2]
        durations.extend(runs / 25.0)
        # the eyes are open most of the time and blinks shut them fully
        assert b.max() > 0.95 and np.mean(b < 0.1) > 0.9
    assert 12 <= np.mean(rates) <= 20, rates
    assert min(durations) >= 0.04 and max(durations) <= 0.44, (min(durations), max(durations))


def test_controls_change_the_face():
    x = syllables(2.0)
    neutral = audio_to_motion(x, SR)
    happy = audio_to_motion(x, SR, MotionConfig(emotion="happy"))
    assert happy.column("mouthSmileLeft").mean() > neutral.column("mouthSmileLeft").mean() + 0.3
    far = audio_to_motion(x, SR, MotionConfig(head_distance=2.0))
    np.testing.assert_allclose(far.column("log_scale"), -np.log(2.0), atol=1e-6)
    still = audio_to_motion(x, SR, MotionConfig(motion_intensity=0.0))
    assert np.degrees(np.abs(still.z_pose[:, :3])).max() < 1.0  # breathing only
    right = audio_to_motion(x, SR, MotionConfig(gaze=(20.0, 0.0)))
    assert right.column("eyeLookOutLeft").mean() > 0.4
    with pytest.raises(InputError):
        audio_to_motion(x, SR, MotionConfig(emotion="bored"))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_sample_rates_give_the_same_mouth(rate):
    from vasa3d.motion.audio import resample

    x = syllables(3.0)
    ref = audio_to_motion(x, SR).column("jawOpen")
    other = audio_to_motion(resample(x, SR, rate), rate).column("jawOpen")
    assert len(other) == len(ref)
    assert np.corrcoef(ref, other)[0, 1] > 0.95


def test_bad_and_odd_inputs():
    with pytest.raises(InputError, match="empty"):
        audio_to_motion(np.zeros(0, np.float32), SR)
    with pytest.raises(InputError, match="NaN"):
        audio_to_motion(np.full(100, np.nan, np.float32), SR)
    with pytest.raises(InputError, match="sample rate"):
        audio_to_motion(np.zeros(100, np.float32), 100)
    x = syllables(2.0)
    mono = audio_to_motion(x, SR)
    stereo = audio_to_motion(np.stack([x, x], axis=1), SR)
    np.testing.assert_array_equal(mono.z_dyn, stereo.z_dyn)
    pcm = audio_to_motion((x * 32767).astype(np.int16), SR)
    assert np.abs(pcm.z_dyn - mono.z_dyn).max() < 0.05
    clipped = audio_to_motion(np.clip(x * 50, -1, 1), SR)
    assert np.corrcoef(clipped.column("jawOpen"), mono.column("jawOpen"))[0, 1] > 0.8
    tiny = audio_to_motion(np.zeros(10, np.float32), SR)
    assert len(tiny) == 1 and tiny.column("jawOpen")[0] == 0


def test_ten_minutes_of_audio():
    from vasa3d.motion.synth import synthesize

    speech = synthesize("Watch my lips move as I speak, and then I pause.", voice="male")
    x = np.tile(speech.samples, int(np.ceil(600 / speech.duration)))[: 600 * SR]
    m = audio_to_motion(x, SR)
    assert len(m) == 15000
    jaw = m.column("jawOpen").reshape(-1, 250)  # 10-second blocks
    # the mouth keeps following speech to the end (the trackers do not drift)
    assert np.all(jaw.max(axis=1) > 0.3) and np.all(jaw.min(axis=1) < 0.02)
    assert np.all(np.isfinite(m.z_pose)) and np.degrees(np.abs(m.z_pose[:, :3])).max() < 25


def test_streams_with_phone_labels_equal_offline():
    from vasa3d.motion.synth import synthesize

    speech = synthesize("Maybe my mom bought a map.", voice="female")
    x = speech.samples
    for config, phonemes in ((MotionConfig(), speech.phonemes), (MotionConfig(recognizer="allphone"), None)):
        offline = audio_to_motion(x, SR, config, phonemes=phonemes)
        stream = MotionStream(SR, config, phonemes=phonemes)
        parts, i, rng = [], 0, np.random.default_rng(3)
        while i < len(x):
            n = int(rng.integers(50, 2500))
            parts.append(stream.push(x[i:i + n]))
            i += n
        parts.append(stream.flush())
        np.testing.assert_array_equal(np.concatenate([p.z_dyn for p in parts]), offline.z_dyn)
    # the allphone recognizer's labels reach the mouth: it differs from the acoustic-only mouth
    plain = audio_to_motion(x, SR)
    assert np.abs(offline.z_dyn - plain.z_dyn).max() > 0.05


def test_stream_refuses_a_transcript():
    with pytest.raises(InputError, match="transcript"):
        MotionStream(SR, MotionConfig(transcript="hello"))


def test_gaze_moves_in_saccades_and_fixations():
    from vasa3d.motion.generate import EYE_YAW_PER_WEIGHT

    m = audio_to_motion(np.zeros(30 * SR, np.float32), SR, MotionConfig(seed=2))
    yaw = (m.column("eyeLookOutLeft") - m.column("eyeLookInLeft")) * EYE_YAW_PER_WEIGHT
    step = np.abs(np.diff(yaw))
    # jumps of a degree and more happen tens of times in 30 s, and between them the eyes hold still-ish
    jumps = np.sum((step[1:] > 1.0) & (step[:-1] <= 1.0))
    assert 10 <= jumps <= 80, jumps
    assert np.median(step) < 0.2
    assert np.abs(yaw).max() < 25


def test_audio2motion_object_matches_the_function():
    from vasa3d.motion import Audio2Motion

    x = syllables(2.0)
    a2m = Audio2Motion(MotionConfig(emotion="sad", seed=4))
    m = a2m(x, SR)
    np.testing.assert_array_equal(m.z_dyn, audio_to_motion(x, SR, MotionConfig(emotion="sad", seed=4)).z_dyn)
    stream = a2m.stream(SR)
    parts = [stream.push(x[:7000]), stream.push(x[7000:]), stream.flush()]
    np.testing.assert_array_equal(np.concatenate([p.z_pose for p in parts]), m.z_pose)
