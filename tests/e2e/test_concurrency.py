"""Two runs on one output, and a work folder left by another run (issue 15)."""

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys

import pytest
from skimage import data

from vasa3d.cli import main
from vasa3d.io import FolderLock, probe_video, save_image
from vasa3d.pipeline import image_digest


def _hold(folder, ready, release):
    with FolderLock(folder):
        ready.set()
        release.wait(60)


def _one_error(capsys, argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_second_create_on_the_same_output_stops(tmp_path, capsys):
    save_image(tmp_path / "p.png", data.astronaut())
    work = tmp_path / "a.vasa3d.work"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(work, ready, release))
    proc.start()
    try:
        assert ready.wait(60)
        err = _one_error(capsys, ["create", tmp_path / "p.png", "-o", tmp_path / "a.vasa3d", "--preset", "demo"])
        assert f"the work folder {work} is in use by another vasa3d run" in err
        assert sorted(p.name for p in work.iterdir()) == [".lock"]  # the other run's folder is untouched
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)


def test_create_refuses_the_work_folder_of_another_portrait(tmp_path, capsys):
    save_image(tmp_path / "b.png", data.astronaut())
    work = tmp_path / "a.vasa3d.work"
    work.mkdir()
    other = {"portrait": image_digest(data.camera()), "preset": "demo", "frames": 200, "motion": "random", "seed": 0,
             "iterations": 600, "resolution": 160}
    (work / "run.json").write_text(json.dumps(other))
    (work / "train").mkdir()
    (work / "train" / "checkpoint.safetensors").write_bytes(b"photo A's training")
    err = _one_error(capsys, ["create", tmp_path / "b.png", "-o", tmp_path / "a.vasa3d", "--preset", "demo"])
    assert "another portrait" in err and "the portrait" in err and f"delete {work}" in err
    assert (work / "train" / "checkpoint.safetensors").read_bytes() == b"photo A's training"
    assert not (tmp_path / "a.vasa3d").exists()

    (work / "run.json").unlink()  # a folder whose origin is unknown is refused too
    err = _one_error(capsys, ["create", tmp_path / "b.png", "-o", tmp_path / "a.vasa3d", "--preset", "demo"])
    assert "unknown run" in err and f"delete {work}" in err


def test_two_speak_runs_writing_one_file(tmp_path, tiny_avatar, speech_clip):
    """Both finish; the file is one whole video; no temporary file is left."""
    out = tmp_path / "v.mp4"
    cmd = [sys.executable, "-m", "vasa3d.cli", "speak", str(tiny_avatar), str(speech_clip), "-o", str(out),
           "--size", "64", "--generator", "loudness", "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    info = probe_video(out)
    assert info["video"]["frames"] == 50 and info["video"]["width"] == 64
    assert abs(info["audio"]["duration"] - 2.0) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_speak_leaves_nothing(tmp_path, tiny_avatar, speech_clip, sig):
    out = tmp_path / "v.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "vasa3d.cli", "speak", str(tiny_avatar), str(speech_clip),
                             "-o", str(out), "--size", "64", "--generator", "loudness"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # a background job inherits SIGINT ignored; a terminal gives the default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait until the temporary video exists, then interrupt
    import time

    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".v.mp4.") for p in tmp_path.iterdir()):
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
