"""The command line of the animate room: synth, dataset import/from-video/preview, and bad input."""

import numpy as np
import pytest
import skimage.data
import skimage.transform

from vasa3d.animate.dataset import FrameDataset
from vasa3d.cli import main
from vasa3d.io import load_image, probe_video, save_image


def _run(capsys, *argv):
    code = main(["--quiet", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_synth_from_speech_with_two_faces_picks_the_largest(tmp_path, capsys):
    from vasa3d.motion.synth import synthesize

    img = skimage.data.astronaut().copy()
    small = (skimage.transform.rescale(img[40:240, 120:320], 0.75, channel_axis=-1) * 255).astype(np.uint8)
    img[512 - small.shape[0]:, 512 - small.shape[1]:] = small  # a second, smaller face
    save_image(tmp_path / "two.png", img)
    clips = tmp_path / "clips"
    clips.mkdir()
    synthesize("Hello there, how are you today?", seed=1).save_wav(clips / "a.wav")
    code, out, err = _run(capsys, "synth", tmp_path / "two.png", "-o", tmp_path / "ds", "--minutes", 0.04,
                          "--motion", f"audio:{clips}", "--size", 192, "--workers", 2, "--shard-size", 16)
    assert code == 0, err
    assert "2 faces" in err and "largest" in err
    ds = FrameDataset(tmp_path / "ds")
    assert len(ds) == 60 and ds.width == 192
    assert ds.manifest["source"]["motion"] == "audio" and ds.manifest["source"]["clips"] == ["a.wav"]
    jaw = ds.motion.column("jawOpen")
    assert jaw.max() > 0.2 and jaw.min() < 0.05  # the mouth moves with the speech
    assert load_image(tmp_path / "ds" / "portrait.png").shape == (192, 192, 3)

    # a contact sheet and a preview video of it
    code, _, err = _run(capsys, "dataset", "preview", tmp_path / "ds", "-o", tmp_path / "sheet.png",
                        "--video", tmp_path / "prev.mp4", "--count", 12, "--seconds", 1)
    assert code == 0, err
    sheet = load_image(tmp_path / "sheet.png")
    assert sheet.shape == (2 * 2 * 192, 6 * 192, 3) and sheet.std() > 20
    assert probe_video(tmp_path / "prev.mp4")["video"]["frames"] == 25


@pytest.mark.parametrize("case", ["tiny", "noface", "corrupt-image", "missing-dir"])
def test_synth_refuses_bad_portraits_with_one_line(tmp_path, capsys, case):
    target = tmp_path / "ds"
    if case == "tiny":
        tiny = (skimage.transform.rescale(skimage.data.astronaut(), 0.2, channel_axis=-1) * 255).astype(np.uint8)
        save_image(tmp_path / "p.png", tiny)  # the face is ~20 px wide
    elif case == "noface":
        save_image(tmp_path / "p.png", skimage.data.coffee())
    elif case == "corrupt-image":
        (tmp_path / "p.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    else:
        save_image(tmp_path / "p.png", skimage.data.astronaut())
        target = tmp_path / "nope" / "ds"
    code, _, err = _run(capsys, "synth", tmp_path / "p.png", "-o", target, "--minutes", 0.01)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert {"tiny": "px wide", "noface": "no face", "corrupt-image": "not a readable image",
            "missing-dir": "does not exist"}[case] in lines[0]
    assert not target.exists()


def test_profile_view_is_refused(animator, tmp_path, capsys):
    zd, zp = animator.portrait_latent
    p = zp.copy()
    p[1] = np.radians(80)
    save_image(tmp_path / "side.png", animator(zd, p)[0])
    code, _, err = _run(capsys, "synth", tmp_path / "side.png", "-o", tmp_path / "ds", "--minutes", 0.01)
    assert code == 2 and ("profile" in err or "no face" in err), err
    assert not (tmp_path / "ds").exists()


def test_dataset_commands_refuse_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 30)
    code, _, err = _run(capsys, "dataset", "from-video", bad, "-o", tmp_path / "ds")
    assert code == 2 and "bad.mp4" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "dataset", "preview", tmp_path / "missing", "-o", tmp_path / "s.png")
    assert code == 2 and "not a folder" in err
    code, _, err = _run(capsys, "dataset", "import", tmp_path, "-o", tmp_path / "ds")
    assert code == 2 and "motion.npz" in err
    code, _, err = _run(capsys, "synth", tmp_path / "x.png", "-o", tmp_path / "ds", "--motion", "dance")
    assert code == 2
