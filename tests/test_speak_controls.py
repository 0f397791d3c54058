"""``vasa3d speak --head-distance --gaze`` change the rendered face (issue 14, item 2).

The astronaut avatar (tests/conftest.py, untrained, coloured from the photo) speaks one second of a
LibriVox recording with a still head; mediapipe's landmarks, found again on the decoded video frames,
measure how big the face is (the distance between the outer eye corners) and where the irises sit
between the eye corners.
"""

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vasa3d.cli import main
from vasa3d.face import detect_landmarks
from vasa3d.io.media import read_video_frames
from vasa3d.pipeline import parse_gaze

SPEECH = Path(__file__).parent / "data" / "speech" / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
#: mediapipe indices: outer and inner eye corners (subject's right eye, left eye) and the iris centres
RIGHT_EYE, LEFT_EYE, IRISES = (33, 133), (362, 263), (468, 473)


def _landmarks(frame: np.ndarray) -> np.ndarray:
    """``(478, 2)`` landmarks in the frame's pixels."""
    lm = detect_landmarks(frame)
    assert lm is not None
    return lm[:, :2]


def _speak(avatar, tmp_path, name, *flags) -> list[np.ndarray]:
    with wave.open(str(SPEECH)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")[: 16000]
    clip = tmp_path / "clip.wav"
    if not clip.exists():
        sf.write(clip, x, 16000, subtype="PCM_16")
    out = tmp_path / f"{name}.mp4"
    assert main(["speak", str(avatar), str(clip), "-o", str(out), "--size", "256", "--motion-intensity", "0",
                 "--quiet", *flags]) == 0
    frames, _ = read_video_frames(out)
    return frames


def _eyes(frames, idx=(5, 12, 20)) -> tuple[float, float]:
    """(outer eye corner to outer eye corner in pixels, median over ``idx``; where the irises sit between
    their eye's corners, 0 at the corner on the image's left, 1 at the one on its right, mean of both eyes)."""
    spans, shifts = [], []
    for i in idx:
        lm = _landmarks(frames[i])
        spans.append(np.linalg.norm(lm[RIGHT_EYE[0]] - lm[LEFT_EYE[1]]))
        # each iris's x between its eye's corners, as a share of that eye's width (image left to right)
        for (a, b), iris in zip((RIGHT_EYE, LEFT_EYE), IRISES):
            x0, x1 = sorted((lm[a][0], lm[b][0]))
            shifts.append((lm[iris][0] - x0) / (x1 - x0))
    return float(np.median(spans)), float(np.mean(shifts))


@pytest.fixture(scope="module")
def near_left_far_right(astronaut_avatar, tmp_path_factory):
    d = tmp_path_factory.mktemp("controls")
    near = _speak(astronaut_avatar, d, "near", "--head-distance", "0.8", "--gaze", "25,0")
    far = _speak(astronaut_avatar, d, "far", "--head-distance", "1.25", "--gaze=-25,0")
    return _eyes(near), _eyes(far)


def test_head_distance_scales_the_face(near_left_far_right):
    (near, _), (far, _) = near_left_far_right
    # 1.25 / 0.8 times as far: the face is 0.64 times as big (measured 0.622)
    assert far / near == pytest.approx(0.8 / 1.25, rel=0.05), (near, far)


def test_gaze_moves_the_irises(near_left_far_right):
    (_, left), (_, right) = near_left_far_right
    # looking 25 degrees toward the subject's left (the image's right) against 25 degrees to their right:
    # the irises move toward the image's right (measured 0.113 of the eye's width)
    assert left - right >= 0.08, (left, right)


def test_bad_gaze_is_one_line(astronaut_avatar, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    for flags, expect in ((["--gaze", "left"], "bad --gaze"), (["--gaze", "60,0"], "gaze must be"),
                          (["--head-distance", "0"], "head distance must be")):
        code = main(["speak", str(astronaut_avatar), str(SPEECH), "-o", str(tmp_path / "v.mp4"), *flags])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expect in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert parse_gaze("15,-5") == (15.0, -5.0)
