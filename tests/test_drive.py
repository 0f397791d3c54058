"""``vasa3d render`` and ``vasa3d reenact``: motion files and driving videos drive an avatar."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.cli import main
from vasa3d.face import detect_landmarks
from vasa3d.face import landmarks as L
from vasa3d.io import probe_video, read_video_frames
from vasa3d.motion.latent import MotionLatent

FPS = 30
T = 45  # 1.5 s at 30 fps


def _bump(t, centre, width):
    x = np.clip((t - centre) / width, -1, 1)
    return 0.5 * (1 + np.cos(np.pi * x))


def _curves():
    t = np.arange(T, dtype=np.float64)
    jaw = 0.7 * (_bump(t, 10, 7) + _bump(t, 32, 6))
    blink = _bump(t, 22, 4)  # both eyes close while the mouth is shut
    return jaw, blink


def _live_link_face_csv(path):
    """A take as Live Link Face writes it: timecode HH:MM:SS:FF.mmm, BlendShapeCount, 52 capitalised
    ARKit names, then head and eye rotations (radians)."""
    jaw, blink = _curves()
    names = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    extra = ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
             "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    lines = [",".join(["Timecode", "BlendShapeCount", *names, *extra])]
    for i in range(T):
        w = np.zeros(len(ARKIT_NAMES))
        w[ARKIT_NAMES.index("jawOpen")] = jaw[i]
        w[ARKIT_NAMES.index("eyeBlinkLeft")] = w[ARKIT_NAMES.index("eyeBlinkRight")] = blink[i]
        s, f = divmod(i, FPS)
        stamp = f"17:42:{10 + s:02d}:{f:02d}.{(i * 37) % 1000:03d}"
        lines.append(",".join([stamp, "61", *(f"{x:.6f}" for x in w), *(["0.000000"] * len(extra))]))
    path.write_text("\r\n".join(lines) + "\r\n")
    return jaw, blink


def _measure(frames):
    gaps, eyes = [], []
    for frame in frames:
        lm = detect_landmarks(frame)
        assert lm is not None, "the rendered face must be found in every frame"
        iod = L.inter_ocular(lm)
        gaps.append(L.lip_gap(lm) / iod)
        eyes.append((L.eye_aperture(lm, "left") + L.eye_aperture(lm, "right")) / (2 * iod))
    return np.array(gaps), np.array(eyes)


@pytest.fixture(scope="module")
def csv_render(astronaut_avatar, tmp_path_factory):
    d = tmp_path_factory.mktemp("render")
    jaw, blink = _live_link_face_csv(d / "take.csv")
    sr = 16000
    sf.write(d / "sound.wav", 0.2 * np.sin(np.linspace(0, 2 * np.pi * 220 * T / FPS, sr * T // FPS)), sr)
    out = d / "take.mp4"
    assert main(["render", str(astronaut_avatar), str(d / "take.csv"), "-o", str(out), "--size", "256",
                 "--audio", str(d / "sound.wav"), "-q"]) == 0
    return out, jaw, blink


def test_live_link_face_csv_plays_at_its_rate_with_the_sound(csv_render):
    out, _, _ = csv_render
    info = probe_video(out)
    assert info["video"]["fps"] == pytest.approx(FPS) and info["video"]["frames"] == T
    assert info["video"]["width"] == 256 and info["audio"]["codec"] == "aac"
    assert info["audio"]["duration"] == pytest.approx(T / FPS, abs=0.05)


def test_jaw_and_blink_curves_are_measured_back_on_the_frames(csv_render):
    out, jaw, blink = csv_render
    frames, _ = read_video_frames(out)
    gaps, eyes = _measure(frames)
    r_jaw = np.corrcoef(gaps, jaw)[0, 1]
    r_eye = np.corrcoef(eyes, blink)[0, 1]
    print(f"lip gap vs jawOpen r = {r_jaw:.3f}; eye aperture vs eyeBlink r = {r_eye:.3f}; "
          f"gap shut {gaps[jaw < 0.01].mean():.3f} open {gaps[jaw > 0.6].mean():.3f}; "
          f"eyes open {eyes[blink < 0.01].mean():.3f} closed {eyes[blink > 0.9].mean():.3f}")
    assert r_jaw >= 0.9
    assert r_eye <= -0.8
    assert gaps[jaw > 0.6].mean() > 3 * gaps[jaw < 0.01].mean() + 0.05
    assert eyes[blink > 0.9].mean() < 0.6 * eyes[blink < 0.01].mean()


def test_npz_json_and_csv_are_one_motion(astronaut_avatar, tmp_path):
    """The three formats of the same take give the same frames."""
    from vasa3d.drive import RenderConfig, render_frames
    from vasa3d.head.arkit_io import write_arkit_json
    from vasa3d.io import load_avatar
    from vasa3d.motion.files import read_motion

    _live_link_face_csv(tmp_path / "take.csv")
    csv = read_motion(tmp_path / "take.csv")
    assert csv.fps == FPS and len(csv) == T
    short = csv.slice(8, 11)
    short.save(tmp_path / "take.npz")
    write_arkit_json(tmp_path / "take.json", short)
    avatar = load_avatar(astronaut_avatar)
    config = RenderConfig(size=96)
    ref = list(render_frames(avatar, short, config, quiet=True))
    for name in ("take.npz", "take.json"):
        m = read_motion(tmp_path / name)
        assert m.fps == FPS
        frames = list(render_frames(avatar, m, config, quiet=True))
        assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(frames, ref)) <= 1


@pytest.mark.parametrize("content, message", [
    ("Timecode,Foo\n00:00:00:00.000,1\n", "ARKit CSV"),
    ("", "no frames"),
])
def test_bad_motion_file_is_one_line(astronaut_avatar, tmp_path, capsys, content, message):
    (tmp_path / "bad.csv").write_text(content)
    out = tmp_path / "x.mp4"
    assert main(["render", str(astronaut_avatar), str(tmp_path / "bad.csv"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_motion_of_another_schema_is_refused(astronaut_avatar, tmp_path, capsys):
    m = MotionLatent(np.zeros((3, 4)), np.zeros((3, 7)), 25.0, "kp4", ("a", "b", "c", "d"))
    m.save(tmp_path / "kp.npz")
    assert main(["render", str(astronaut_avatar), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "trained on 52 + 7" in capsys.readouterr().err
