"""Bad input ends with one line, a non-zero exit, and no partial output (issue 2)."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from skimage import data

from vasa3d.cli import main
from vasa3d.io import save_image


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.fixture
def speech_wav(tmp_path):
    sr = 16000
    t = np.arange(sr) / sr
    path = tmp_path / "tone.wav"
    sf.write(path, (0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr)
    return path


def _assert_clean(code, err, tmp_path, expect, before):
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ")
    assert expect in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_create_refuses_a_photo_without_a_face(tmp_path, capsys):
    save_image(tmp_path / "coffee.png", data.coffee())
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = _run(["create", str(tmp_path / "coffee.png"), "-o", str(tmp_path / "a.vasa3d")], capsys)
    _assert_clean(code, err, tmp_path, "no face", before)


@pytest.mark.parametrize("content,expect", [(b"", "empty"), (b"GIF89a not really" * 20, "not a readable image")])
def test_create_refuses_broken_images(tmp_path, capsys, content, expect):
    (tmp_path / "p.jpg").write_bytes(content)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = _run(["create", str(tmp_path / "p.jpg"), "-o", str(tmp_path / "a.vasa3d")], capsys)
    _assert_clean(code, err, tmp_path, expect, before)


def test_output_in_a_missing_folder(tmp_path, capsys, speech_wav):
    save_image(tmp_path / "astronaut.png", data.astronaut())
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = _run(["create", str(tmp_path / "astronaut.png"), "-o", str(tmp_path / "no" / "a.vasa3d")], capsys)
    _assert_clean(code, err, tmp_path, "output folder does not exist", before)
    code, err = _run(["speak", "x.vasa3d", str(speech_wav), "-o", str(tmp_path / "no" / "v.mp4")], capsys)
    _assert_clean(code, err, tmp_path, "output folder does not exist", before)


def test_speak_refuses_corrupt_empty_and_silent_audio(tmp_path, capsys):
    sr = 16000
    sf.write(tmp_path / "silent.wav", np.zeros(sr, np.float32), sr)
    (tmp_path / "corrupt.mp3").write_bytes(b"\x00\x01garbage" * 100)
    (tmp_path / "empty.wav").write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, expect in [("silent.wav", "silent"), ("corrupt.mp3", "not a readable audio"), ("empty.wav", "empty")]:
        code, err = _run(["speak", "x.vasa3d", str(tmp_path / name), "-o", str(tmp_path / "v.mp4")], capsys)
        _assert_clean(code, err, tmp_path, expect, before)


def test_speak_refuses_a_file_that_is_not_an_avatar(tmp_path, capsys, speech_wav):
    (tmp_path / "fake.vasa3d").write_bytes(b"not an avatar" * 10)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = _run(["speak", str(tmp_path / "fake.vasa3d"), str(speech_wav), "-o", str(tmp_path / "v.mp4")], capsys)
    _assert_clean(code, err, tmp_path, "not a valid .vasa3d", before)


def test_bad_camera_spec(tmp_path, capsys, speech_wav):
    code, err = _run(["speak", "x.vasa3d", str(speech_wav), "-o", str(tmp_path / "v.mp4"), "--camera", "left"],
                     capsys)
    assert code == 2 and "bad --camera" in err[0]


def test_the_installed_command_prints_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vasa3d.cli", "speak", "a.vasa3d", str(tmp_path / "none.wav"),
                           "-o", str(tmp_path / "v.mp4")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: audio file not found: {tmp_path / 'none.wav'}"]


def test_speak_checks_the_motion_generator_before_any_work(tmp_path, capsys, speech_wav):
    before = sorted(p.name for p in tmp_path.iterdir())
    out = str(tmp_path / "v.mp4")
    for extra, expect in (
        (["--generator", "diffusion"], "needs a model file"),
        (["--generator", "diffusion", "--diffusion-model", str(tmp_path / "none.safetensors")],
         "model not found"),
        (["--speech-encoder", str(tmp_path)], "only read by the diffusion generator"),
    ):
        code, err = _run(["speak", "x.vasa3d", str(speech_wav), "-o", out, *extra], capsys)
        _assert_clean(code, err, tmp_path, expect, before)
