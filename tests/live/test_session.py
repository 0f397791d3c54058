"""The live engine on the astronaut: lip sync as offline, idle life, barge-in, controls, bad input.

Sessions run with ``realtime=False`` (frames as fast as they are read), which runs the same
threads and generator as the real-time clock but makes frame contents independent of the
machine's speed; wall-clock figures (fps, latency) are in benchmarks/live.py.
"""

import numpy as np
import pytest
import soundfile as sf

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.errors import InputError
from vasa3d.face import detect_landmarks
from vasa3d.face import landmarks as L
from vasa3d.live import LiveConfig, LiveSession
from vasa3d.motion import audio_to_motion
from vasa3d.motion.synth import synthesize

JAW = ARKIT_INDEX["jawOpen"]
SR = 16000


def _speech_with_pause():
    a = synthesize("Hello! I am a talking head, and I speak live.", voice="female", sr=SR).samples
    b = synthesize("Watch my lips move as I talk.", voice="male", sr=SR).samples
    return np.concatenate([a, np.zeros(SR, np.float32), b]).astype(np.float32)


def _session(path, **kw):
    kw.setdefault("realtime", False)
    kw.setdefault("size", 32)
    return LiveSession(path, LiveConfig(**kw))


def _read(session, n):
    frames = []
    for _ in range(n):
        f = session.get_frame(timeout=30)
        assert f is not None, "the session stopped giving frames"
        frames.append(f)
    return frames


def _lip_gaps(images):
    gaps = []
    for img in images:
        lm = detect_landmarks(img)
        gaps.append(np.nan if lm is None else L.lip_gap(lm) / L.face_width(lm))
    return np.asarray(gaps)


def _rms(chunks):
    return np.array([np.sqrt(np.mean(np.asarray(c, np.float64) ** 2)) for c in chunks])


def _r(gaps, loud):
    ok = np.isfinite(gaps)
    assert ok.mean() >= 0.9, f"face found in only {ok.mean():.0%} of frames"
    return np.corrcoef(gaps[ok], loud[ok])[0, 1], ok


def test_lip_sync_live_matches_offline(astronaut_20k, tmp_path):
    from vasa3d.io import read_video_frames
    from vasa3d.io.media import write_video
    from vasa3d.pipeline import SpeakConfig, speak

    x = _speech_with_pause()
    wav = tmp_path / "speech.wav"
    sf.write(wav, x, SR)
    video = speak(astronaut_20k, wav, tmp_path / "offline.mp4", SpeakConfig(size=256), quiet=True)
    off_frames, _ = read_video_frames(video)
    spf = SR // 25
    off_loud = _rms([x[i * spf:(i + 1) * spf] for i in range(len(off_frames))])
    r_off, _ = _r(_lip_gaps(off_frames), off_loud)

    session = _session(astronaut_20k, size=256)
    try:
        lead = _read(session, 10)  # the avatar idles first; speech then starts at "now"
        for i in range(0, len(x), 320):  # 20 ms chunks, as a microphone sends them
            session.push_audio(x[i:i + 320], SR)
        live = lead + _read(session, len(off_frames) + 10)
    finally:
        session.close()
    # frames carry their own audio: the live loudness is measured on what each frame plays
    loud = _rms([f.audio for f in live])
    assert [f.index for f in live] == list(range(len(live)))
    assert all(len(f.audio) == 48000 // 25 for f in live)
    # like with like: the live frames through the same H.264 coding as speak's video (coding a 256 px
    # mouth moves mediapipe's lip gaps by a few hundredths of r on its own)
    coded, _ = read_video_frames(write_video(tmp_path / "live.mp4", [f.image for f in live], 25.0))
    gaps = _lip_gaps(coded)
    r_live, ok = _r(gaps, loud)
    assert r_live >= 0.5
    assert abs(r_live - r_off) <= 0.05, (r_live, r_off)
    # the mouth is shut in the pause and in the idle lead (loudness ~0 there)
    silent = (loud < 1e-4) & ok
    assert silent.sum() >= 20
    assert np.median(gaps[silent]) < 0.5 * np.percentile(gaps[~silent & ok], 90)
    # audio and video in sync: jaw opening peaks with the frame's own loudness, not a frame off
    jaw = np.array([f.z_dyn[JAW] for f in live])
    lags = range(-3, 4)
    corr = [np.corrcoef(np.roll(jaw, lag)[5:-5], loud[5:-5])[0, 1] for lag in lags]
    assert abs(list(lags)[int(np.argmax(corr))]) <= 1


def _max_steps(z):
    return np.abs(np.diff(z, axis=0)).max(axis=0)


IDLE_S = 40  # seconds of idling: several blinks, every second of head sway


def test_idle_session_lives_and_nothing_jumps(small_avatar):
    session = _session(small_avatar)
    try:
        frames = _read(session, IDLE_S * 25)
    finally:
        session.close()
    z_dyn = np.stack([f.z_dyn for f in frames])
    z_pose = np.stack([f.z_pose for f in frames])
    blink = z_dyn[:, ARKIT_INDEX["eyeBlinkLeft"]]
    shut = blink > 0.5
    blinks = int(np.sum(shut[1:] & ~shut[:-1]))
    assert blinks >= 5, f"{blinks} blinks in {IDLE_S} s"  # people blink 10-20 times a minute
    # head motion in every second: the rotation moves by more than 0.05 degrees within each second
    rot = np.degrees(z_pose[:, :3])
    per_second = np.ptp(rot.reshape(IDLE_S, 25, 3), axis=1).max(axis=1)
    assert per_second.min() > 0.05, per_second.min()
    assert np.all([f.audio.max() == 0 for f in frames])
    # no channel steps further than the generator's own steps on the same silence, offline
    ref = audio_to_motion(np.zeros(60 * SR, np.float32), SR)
    assert np.all(_max_steps(z_dyn) <= _max_steps(ref.z_dyn) + 1e-4)
    assert np.all(_max_steps(z_pose) <= _max_steps(ref.z_pose) + 1e-4)


def test_idle_to_speech_and_back_is_smooth(small_avatar):
    x = _speech_with_pause()
    session = _session(small_avatar)
    try:
        lead = _read(session, 37)  # an odd number: speech starts between two frames
        session.push_audio(x, SR)
        frames = lead + _read(session, int(len(x) / SR * 25) + 40)
    finally:
        session.close()
    z = np.stack([f.z_dyn for f in frames])
    zp = np.stack([f.z_pose for f in frames])
    # the generator's own steps offline, over a minute of silence (blinks of every length) and the same speech
    ref = audio_to_motion(np.concatenate([np.zeros(60 * SR, np.float32), x, np.zeros(2 * SR, np.float32)]), SR)
    assert z[:, JAW].max() > 0.2  # it spoke
    # steps depend on where in its random sway the head is when speech starts: allow 25 % over the reference
    assert np.all(_max_steps(z) <= 1.25 * _max_steps(ref.z_dyn) + 0.02)
    assert np.all(_max_steps(zp) <= 1.25 * _max_steps(ref.z_pose) + 1e-3)


def test_interrupt_brings_the_mouth_to_rest(small_avatar):
    x = synthesize("This is a long sentence that keeps the mouth busy for a good while, on and on.",
                   voice="male", sr=SR).samples
    session = _session(small_avatar)
    try:
        session.push_audio(x, SR)
        before = _read(session, 40)
        assert max(f.z_dyn[JAW] for f in before[-15:]) > 0.2  # mid-sentence
        assert session.interrupt() is True
        after = _read(session, 30)
        # new speech right after a barge-in is spoken at once
        session.push_audio(x[: 2 * SR], SR)
        again = _read(session, 50)
    finally:
        session.close()
    jaw = np.array([f.z_dyn[JAW] for f in after])
    open_ = np.nonzero(jaw > 0.05)[0]
    rest_from = int(open_.max()) + 1 if len(open_) else 0
    assert rest_from <= 5, f"mouth at rest only {rest_from} frames after interrupt(): {np.round(jaw, 2)}"
    loud = _rms([f.audio for f in after])
    assert np.all(loud[5:] == 0)  # the speech stopped too
    assert max(f.z_dyn[JAW] for f in again) > 0.2


def test_controls_change_the_next_frames(small_avatar):
    session = _session(small_avatar, size=64)
    try:
        _read(session, 5)
        session.set_controls(emotion="happy", size=48)
        frames = _read(session, 6)
        session.set_controls(yaw=40.0)
        turned = _read(session, 6)
    finally:
        session.close()
    smile = ARKIT_INDEX["mouthSmileLeft"]
    first_happy = next(i for i, f in enumerate(frames) if f.z_dyn[smile] > 0.3)
    first_small = next(i for i, f in enumerate(frames) if f.image.shape == (48, 48, 3))
    assert first_happy <= 3 and first_small <= 3
    # the view turns: frames differ from the last front view far more than front views differ from each other
    def diff(a, b):
        return np.abs(a.image.astype(float) - b.image.astype(float)).mean()

    calm = diff(frames[-1], frames[-2])
    turn = diff(turned[-1], frames[-1])
    assert turn > 5 * calm and turn > 2.0, (turn, calm)
    first_turned = next(i for i, f in enumerate(turned) if diff(f, frames[-1]) > 0.5 * turn)
    assert first_turned <= 1


@pytest.mark.parametrize("bad", [
    lambda s: s.push_audio(np.full(320, np.nan, np.float32), SR),
    lambda s: s.push_audio(np.zeros(320, np.float32), 0),
    lambda s: s.push_audio(np.zeros(10 * 60 * SR, np.float32), SR),
    lambda s: s.push_audio(np.zeros((4, 4, 4), np.float32), SR),
    lambda s: s.say("... !!! ..."),
    lambda s: s.set_controls(yaw=float("nan")),
    lambda s: s.set_controls(distance=0.0),
    lambda s: s.set_controls(zoom=2.0),
], ids=["nan-samples", "rate-0", "10-minute-chunk", "3d-array", "no-words", "nan-yaw", "zero-distance",
        "unknown-control"])
def test_bad_input_is_refused_and_the_session_goes_on(small_avatar, bad):
    session = _session(small_avatar)
    try:
        _read(session, 3)
        with pytest.raises(InputError) as err:
            bad(session)
        assert "\n" not in str(err.value) and len(str(err.value)) < 200
        frames = _read(session, 5)
        assert [f.index for f in frames] == list(range(3, 8))
        assert session.stats()["queued_audio_s"] == 0.0
        assert session.controls.yaw == 0.0 and session.controls.distance == 1.0
    finally:
        session.close()


def test_backgrounds_colour_and_image(small_avatar, tmp_path):
    from PIL import Image

    picture = np.zeros((40, 60, 3), np.uint8)
    picture[:, :, 1] = 200  # green
    picture[:20, :, 0] = 180  # top half yellowish
    Image.fromarray(picture).save(tmp_path / "bg.png")
    for spec, corner in (("white", (255, 255, 255)), ("#1e90ff", (30, 144, 255)),
                         (str(tmp_path / "bg.png"), (180, 200, 0))):
        session = _session(small_avatar, size=48, background=spec)
        try:
            image = _read(session, 2)[-1].image
        finally:
            session.close()
        # the top-right corner: the hair shell's soft edge reaches into the top-left one at 48 px (253 of 255)
        assert np.abs(image[1, -2].astype(int) - corner).max() <= 2, (spec, image[1, -2])
    assert np.abs(image[-2, 1].astype(int) - (0, 200, 0)).max() <= 2  # the picture's bottom half
    for spec in ("portrait", "transparent", "no-such-file.png"):
        with pytest.raises(InputError):
            LiveConfig(background=spec).validate()
