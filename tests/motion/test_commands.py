"""``vasa3d motion`` and ``vasa3d say`` on real files: every container the issue names, bad inputs, outputs."""

import json

import numpy as np
import pytest

from vasa3d.cli import main
from vasa3d.motion import MotionLatent
from vasa3d.motion.synth import synthesize

SENTENCE = "Watch my lips move as I speak."


def encode(path, samples: np.ndarray, sr: int, codec: str, channels: int = 1) -> None:
    """Write audio with PyAV (the same decoder family users' files go through)."""
    import av

    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=sr, layout=layout)
        data = np.tile(samples[None, :], (channels, 1)).astype(np.float32)
        frame_size = 1024
        for start in range(0, data.shape[1], frame_size):
            chunk = np.ascontiguousarray(data[:, start:start + frame_size])
            # planar float frames; the encoder converts them to its own sample format
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture(scope="module")
def speech():
    return synthesize(SENTENCE, voice="female")


@pytest.mark.parametrize("suffix,codec,sr,channels", [
    (".wav", "pcm_s16le", 16000, 1), (".mp3", "libmp3lame", 44100, 2), (".ogg", "libopus", 48000, 1),
    (".m4a", "aac", 48000, 2), (".wav", "pcm_s16le", 8000, 1),
])
def test_motion_from_every_container(tmp_path, speech, suffix, codec, sr, channels):
    from vasa3d.motion.audio import resample

    audio = tmp_path / f"speech{suffix}"
    encode(audio, resample(speech.samples, speech.sample_rate, sr), sr, codec, channels)
    out = tmp_path / "motion.npz"
    assert main(["motion", str(audio), "-o", str(out), "-q"]) == 0
    motion = MotionLatent.load(out)
    assert abs(motion.duration - speech.duration) < 0.15
    jaw = motion.column("jawOpen")
    assert jaw.max() > 0.2 and jaw[:3].max() < 0.05  # opens on speech, shut in the leading pause


def test_motion_plot_csv_and_controls(tmp_path, speech):
    wav = tmp_path / "s.wav"
    speech.save_wav(wav)
    timing = tmp_path / "phones.json"
    timing.write_text(json.dumps([list(p) for p in speech.phonemes]))
    out, plot, csv = tmp_path / "m.npz", tmp_path / "m.png", tmp_path / "m.csv"
    rc = main(["motion", str(wav), "-o", str(out), "--plot", str(plot), "--csv", str(csv), "--phonemes",
               str(timing), "--emotion", "surprised", "--gaze", "10,-5", "--head-distance", "1.5", "-q"])
    assert rc == 0
    motion = MotionLatent.load(out)
    assert motion.column("browInnerUp").min() > 0.5
    np.testing.assert_allclose(motion.column("log_scale"), -np.log(1.5), atol=1e-6)
    assert plot.stat().st_size > 20000 and plot.read_bytes()[:4] == b"\x89PNG"
    rows = csv.read_text().splitlines()
    assert len(rows) == len(motion) + 1
    header = rows[0].split(",")
    assert header[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"] and header[-1] == "HeadRoll"
    assert len(rows[1].split(",")) == 2 + 52 + 3


def test_say_writes_speech_and_timing(tmp_path):
    import soundfile

    wav, timing = tmp_path / "hi.wav", tmp_path / "hi.json"
    assert main(["say", "Hello there, my friend.", "-o", str(wav), "--voice", "male", "--timing", str(timing),
                 "-q"]) == 0
    x, sr = soundfile.read(wav)
    phones = json.loads(timing.read_text())
    assert sr == 16000 and abs(len(x) / sr - phones[-1][2]) < 0.01
    assert [p[0] for p in phones[1:4]] == ["HH", "AH", "L"]  # the dictionary's "hello"


@pytest.mark.parametrize("case", ["missing", "empty", "not_audio", "no_folder", "bad_suffix", "bad_emotion",
                                  "bad_gaze_value"])
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, speech, capsys, case):
    wav = tmp_path / "s.wav"
    speech.save_wav(wav)
    out = tmp_path / "m.npz"
    args = ["motion", str(wav), "-o", str(out), "-q"]
    if case == "missing":
        args[1] = str(tmp_path / "nope.wav")
    elif case == "empty":
        (tmp_path / "e.wav").write_bytes(b"")
        args[1] = str(tmp_path / "e.wav")
    elif case == "not_audio":
        (tmp_path / "x.mp3").write_text("this is not audio")
        args[1] = str(tmp_path / "x.mp3")
    elif case == "no_folder":
        out = tmp_path / "missing" / "m.npz"
        args[3] = str(out)
    elif case == "bad_suffix":
        out = tmp_path / "m.txt"
        args[3] = str(out)
    elif case == "bad_emotion":
        args += ["--emotion", "bored"]
    elif case == "bad_gaze_value":
        args += ["--gaze", "90,0"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


def test_arkit_csv_round_trip(tmp_path, speech):
    from vasa3d.errors import InputError
    from vasa3d.motion import audio_to_motion

    motion = audio_to_motion(speech.samples, speech.sample_rate)
    path = tmp_path / "face.csv"
    motion.save_arkit_csv(path)
    back = MotionLatent.load_arkit_csv(path)
    assert back.fps == 25 and len(back) == len(motion)
    np.testing.assert_allclose(back.z_dyn, motion.z_dyn, atol=1e-5)
    np.testing.assert_allclose(back.z_pose[:, :3], motion.z_pose[:, :3], atol=1e-5)  # rotation only
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError):
        MotionLatent.load_arkit_csv(tmp_path / "bad.csv")
