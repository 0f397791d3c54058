"""Every bad file and flag through the real command line (issue 15).

Each case builds its hostile input in a fresh folder, runs ``vasa3d`` and
asserts: exit code 2, exactly one ``error:`` line on stderr, no traceback, and
every file in the folder unchanged byte for byte with nothing added.  The
hostile files are generated here; none is shipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vasa3d.cli import main


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's SHA-256, a link's target, or 'dir'."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused(argv: list[str], folder: Path, capsys, expect: str) -> str:
    before = snapshot(folder)
    capsys.readouterr()
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert code == 2, cap.err
    assert "Traceback" not in cap.err
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert expect.lower() in lines[0].lower(), lines[0]
    assert snapshot(folder) == before
    return lines[0]


@pytest.fixture
def work(tmp_path, tiny_avatar, speech_clip):
    """A folder holding an avatar, a speech clip, a portrait and a small dataset-like folder."""
    from skimage import data

    from vasa3d.io import save_image

    shutil.copy(tiny_avatar, tmp_path / "a.vasa3d")
    shutil.copy(speech_clip, tmp_path / "s.wav")
    save_image(tmp_path / "p.png", data.astronaut()[::4, ::4])
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "manifest.json").write_text("{}")
    sf.write(tmp_path / "v.mp4.wav", np.zeros(10, np.float32), 16000)
    return tmp_path


# ----------------------------------------------------------------------------------------------- 1: outputs
OUTPUT_CASES = {
    # speak: the output is an input (directly, through a symlink, through a hard link), or has the wrong extension
    "speak-onto-avatar": (["speak", "a.vasa3d", "s.wav", "-o", "a.vasa3d"], "video must end in .mp4"),
    "speak-onto-avatar-as-mp4": (["speak", "a.vasa3d", "s.wav", "-o", "{link:a.vasa3d}.mp4"], "is the input"),
    "speak-onto-audio-hardlink": (["speak", "a.vasa3d", "s.wav", "-o", "{hard:s.wav}.mp4"], "is the input"),
    "speak-out-txt": (["speak", "a.vasa3d", "s.wav", "-o", "out.txt"], "must end in .mp4"),
    "speak-no-extension": (["speak", "a.vasa3d", "s.wav", "-o", "out"], "no extension"),
    "create-onto-portrait": (["create", "p.png", "-o", "{link:p.png}.vasa3d"], "is the input"),
    "create-out-mp4": (["create", "p.png", "-o", "a2.mp4"], "must end in .vasa3d"),
    "motion-onto-audio": (["motion", "s.wav", "-o", "{link:s.wav}.npz"], "is the input"),
    "motion-plot-wrong": (["motion", "s.wav", "-o", "m.npz", "--plot", "m.txt"], "plot must end in"),
    "say-out-mp3": (["say", "hello", "-o", "x.mp3"], "must end in .wav"),
    "train-onto-dataset": (["train", "ds", "-o", "ds"], "is a folder"),
    "train-out-mp4": (["train", "ds", "-o", "x.mp4"], "must end in .vasa3d"),
    "train-onto-init": (["train", "ds", "-o", "{link:a.vasa3d}.vasa3d", "--init", "a.vasa3d"], "is the input"),
    "preview-sheet-mp4": (["dataset", "preview", "ds", "-o", "sheet.mp4"], "contact sheet must end in"),
    "preview-sheet-noext": (["dataset", "preview", "ds", "-o", "sheet"], "no extension"),
    "preview-video-onto-sheet": (["dataset", "preview", "ds", "-o", "sheet.png", "--video", "v.png"],
                                 "must end in .mp4"),
    "import-onto-source": (["dataset", "import", "ds", "-o", "ds"], "overlaps the input"),
    "import-inside-source": (["dataset", "import", "ds", "-o", "ds/out"], "overlaps the input"),
    "from-video-onto-video": (["dataset", "from-video", "v.mp4.wav", "-o", "v.mp4.wav"], "not a folder"),
    "synth-onto-portrait-folder": (["synth", "p.png", "-o", "p.png"], "not a folder"),
    "eval-onto-existing-file": (["eval", "a.vasa3d", "ds", "-o", "s.wav"], "not a folder"),
    "eval-onto-dataset": (["eval", "a.vasa3d", "ds", "-o", "ds"], "overlaps the input"),
    "track-onto-video": (["track", "v.mp4.wav", "-o", "{link:v.mp4.wav}.npz"], "is the input"),
    "track-out-txt": (["track", "v.mp4.wav", "-o", "m.txt"], "must end in"),
    "head-preview-onto-portrait": (["head", "preview", "p.png", "-o", "{link:p.png}.png"], "is the input"),
    "head-preview-out-jpg": (["head", "preview", "-o", "h.jpg"], "must end in .png"),
    "speak-missing-folder": (["speak", "a.vasa3d", "s.wav", "-o", "no/v.mp4"], "output folder does not exist"),
}


def _resolve(arg: str, folder: Path) -> str:
    """``{link:NAME}SUFFIX`` makes a symlink named NAME+SUFFIX to NAME; ``{hard:NAME}`` a hard link."""
    if arg.startswith("{") and "}" in arg:
        spec, suffix = arg[1:].split("}", 1)
        kind, name = spec.split(":")
        dest = folder / (name + suffix)
        if kind == "link":
            dest.symlink_to(folder / name)
        else:
            os.link(folder / name, dest)
        return str(dest)
    if arg.startswith("-") or arg in ("speak", "create", "motion", "say", "train", "dataset", "preview", "import",
                                      "from-video", "synth", "eval", "track", "head", "hello"):
        return arg
    return str(folder / arg)


@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_outputs(case, work, capsys):
    argv, expect = OUTPUT_CASES[case]
    argv = [_resolve(a, work) for a in argv]
    assert_refused(argv, work, capsys, expect)
