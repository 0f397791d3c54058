import numpy as np
import pytest
import soundfile as sf

from vasa3d.errors import InputError
from vasa3d.io import check_output_path, load_audio, load_image, probe_video, read_video_frames, save_image, write_video


def _tone(sr, seconds, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("sr,channels", [(8000, 1), (16000, 1), (48000, 2)])
def test_load_audio_resamples_to_mono_16k(tmp_path, sr, channels):
    path = tmp_path / "a.wav"
    sf.write(path, _tone(sr, 1.5, channels), sr)
    samples, out_sr = load_audio(path, 16000)
    assert out_sr == 16000
    assert samples.ndim == 1
    assert abs(len(samples) - 24000) <= 64
    mid = samples[4000:20000]
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)


@pytest.mark.parametrize(
    "content,expect",
    [(b"", "empty"), (b"this is not audio at all" * 50, "not a readable audio")],
)
def test_load_audio_bad_files(tmp_path, content, expect):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expect):
        load_audio(path)


def test_load_audio_missing(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_load_image_and_errors(tmp_path):
    img = (np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8)
    save_image(tmp_path / "x.png", img)
    assert np.array_equal(load_image(tmp_path / "x.png"), img)
    (tmp_path / "t.jpg").write_text("hello, not an image")
    with pytest.raises(InputError, match="not a readable image"):
        load_image(tmp_path / "t.jpg")
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(tmp_path / "e.png")


def test_write_video_roundtrip_with_audio(tmp_path):
    sr = 16000
    frames = [np.full((64, 96, 3), 8 * i, np.uint8) for i in range(50)]
    out = write_video(tmp_path / "v.mp4", frames, 25, _tone(sr, 2.0), sr)
    info = probe_video(out)
    assert info["video"]["frames"] == 50
    assert info["video"]["fps"] == pytest.approx(25.0)
    assert info["audio"]["duration"] == pytest.approx(2.0, abs=0.1)
    decoded, fps = read_video_frames(out)
    assert fps == pytest.approx(25.0)
    assert abs(float(decoded[30].mean()) - 240.0) < 4.0
    assert not list(tmp_path.glob(".*part*"))


def test_write_video_refuses_missing_folder_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        check_output_path(tmp_path / "missing" / "v.mp4")

    def broken():
        yield np.zeros((16, 16, 3), np.uint8)
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError):
        write_video(tmp_path / "v.mp4", broken(), 25)
    assert list(tmp_path.iterdir()) == []
