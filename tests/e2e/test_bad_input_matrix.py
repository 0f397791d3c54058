"""Every bad file and flag through the real command line (issue 15).

Each case builds its hostile input in a fresh folder, runs ``vasa3d`` and
asserts: exit code 2, exactly one ``error:`` line on stderr, no traceback, and
every file in the folder unchanged byte for byte with nothing added, with the address space capped
at 4 GB while the command runs (:func:`address_space_cap`).  The
hostile files are generated here; none is shipped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import struct
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
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


MEMORY_CAP = 4 << 30
"""Address space a case may use: 4 GB, or 1 GB more than this test process already maps when that is more
(a whole test session with mediapipe and numba loaded may already map over 3 GB)."""


@contextlib.contextmanager
def address_space_cap():
    """Lower the soft RLIMIT_AS for the block (an allocation past it raises MemoryError instead of
    succeeding lazily, as Linux's overcommit would let even a terabyte do), then restore it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))
    cap = max(MEMORY_CAP, mapped + (1 << 30))
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield cap
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def assert_refused(argv: list[str], folder: Path, capsys, expect: str) -> str:
    before = snapshot(folder)
    capsys.readouterr()
    with address_space_cap():
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
    "speak-png-folder-around-inputs": (["speak", "a.vasa3d", "s.wav", "-o", "."], "overlaps the input"),
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
    "import-around-source": (["dataset", "import", "ds", "-o", "."], "overlaps the input"),
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
    if arg in ("ds", "out") or "/" in arg or ("." in arg and not arg[0].isdigit()):
        return str(folder / arg)  # a file or folder name
    return arg  # a command, an action, a flag or a flag's value


@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_outputs(case, work, capsys):
    argv, expect = OUTPUT_CASES[case]
    argv = [_resolve(a, work) for a in argv]
    assert_refused(argv, work, capsys, expect)


# ----------------------------------------------------------------------------------------------- 5: flags
FLAG_CASES = {
    "camera-yaw-inf": (["--camera", "yaw=inf"], "bad --camera"),
    "camera-pitch-nan": (["--camera", "pitch=nan"], "bad --camera"),
    "camera-pitch-90": (["--camera", "yaw=0,pitch=90"], "pitch within"),
    "camera-garbage": (["--camera", "yaw=thirty"], "bad --camera"),
    "size-0": (["--size", "0"], "--size 0 is out of range"),
    "size-negative": (["--size", "-8"], "--size -8 is out of range"),
    "size-huge": (["--size", "100000"], "out of range"),
    "size-not-a-number": (["--size", "big"], "invalid int value"),
    "emotion-intensity-nan": (["--emotion-intensity", "nan"], "not a finite number"),
    "motion-intensity-inf": (["--motion-intensity", "inf"], "not a finite number"),
    "unknown-flag": (["--colour", "red"], "unrecognized arguments"),
    "unknown-generator": (["--generator", "magic"], "invalid choice"),
}


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_speak_flags(case, work, capsys):
    extra, expect = FLAG_CASES[case]
    assert_refused(["speak", work / "a.vasa3d", work / "s.wav", "-o", work / "v.mp4", *extra], work, capsys, expect)


OTHER_FLAG_CASES = {
    "preview-seconds-nan": (["dataset", "preview", "ds", "-o", "sheet.png", "--video", "p.mp4", "--seconds", "nan"],
                            "not a finite number"),
    "preview-count-0": (["dataset", "preview", "ds", "-o", "sheet.png", "--count", "0"], "--count"),
    "synth-minutes-inf": (["synth", "p.png", "-o", "out", "--minutes", "inf"], "not a finite number"),
    "synth-size-0": (["synth", "p.png", "-o", "out", "--size", "0"], "out of range"),
    "synth-fps-0": (["synth", "p.png", "-o", "out", "--fps", "0"], "--fps"),
    "import-size-negative": (["dataset", "import", "ds", "-o", "out", "--size", "-8"], "out of range"),
    "from-video-max-frames": (["dataset", "from-video", "s.wav", "-o", "out", "--max-frames", "-1"], "--max-frames"),
    "create-frames-negative": (["create", "p.png", "-o", "n.vasa3d", "--frames", "-5"], "--frames"),
    "create-unknown-preset": (["create", "p.png", "-o", "n.vasa3d", "--preset", "fast"], "invalid choice"),
}


@pytest.mark.parametrize("case", sorted(OTHER_FLAG_CASES))
def test_other_flags(case, work, capsys):
    argv, expect = OTHER_FLAG_CASES[case]
    assert_refused([_resolve(a, work) for a in argv], work, capsys, expect)


# ----------------------------------------------------------------------------------------------- avatar files
def _avatar_with(path: Path, source: Path, change) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as f:
        manifest = json.loads(f.metadata()["vasa3d"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    manifest, tensors = change(manifest, tensors)
    save_file(tensors, str(path), metadata={"vasa3d": json.dumps(manifest)})


def _rehash(manifest, tensors):
    from vasa3d.io.checked_file import tensor_digest

    return {**manifest, "sha256": tensor_digest(tensors)}, tensors


AVATAR_CASES = {
    "version-string": (lambda m, t: ({**m, "format_version": "2"}, t), "format version"),
    "version-list": (lambda m, t: ({**m, "format_version": [2]}, t), "format version"),
    "no-avatar-key": (lambda m, t: ({k: v for k, v in m.items() if k != "avatar"}, t), "no avatar settings"),
    "avatar-is-a-list": (lambda m, t: ({**m, "avatar": [1, 2]}, t), "no avatar settings"),
    "config-keys-missing": (lambda m, t: _rehash({**m, "avatar": {}}, t), "not hold a usable avatar"),
    "config-wrong-types": (lambda m, t: _rehash({**m, "avatar": {k: "x" for k in m["avatar"]}}, t),
                           "not hold a usable avatar"),
    "tensor-dropped": (lambda m, t: _rehash(m, dict(list(t.items())[1:])), "not hold a usable avatar"),
    "edited-bytes": (lambda m, t: (m, {k: (v + 1 if v.is_floating_point() else v) for k, v in t.items()}),
                     "checksum mismatch"),
    "manifest-not-json": (None, "no vasa3d manifest"),
}


@pytest.mark.parametrize("case", sorted(AVATAR_CASES))
def test_hostile_avatar_files(case, work, capsys):
    change, expect = AVATAR_CASES[case]
    bad = work / "bad.vasa3d"
    if change is None:
        from safetensors.torch import save_file
        import torch

        save_file({"x": torch.zeros(2)}, str(bad), metadata={"vasa3d": "{not json"})
    else:
        _avatar_with(bad, work / "a.vasa3d", change)
    assert_refused(["speak", bad, work / "s.wav", "-o", work / "v.mp4"], work, capsys, expect)


def test_avatar_header_claiming_huge_sizes(work, capsys):
    """A safetensors header whose offsets point far past the end of the file."""
    header = json.dumps({"__metadata__": {"vasa3d": "{}"},
                         "x": {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 4 << 40]}}).encode()
    (work / "huge.vasa3d").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    (work / "hdr.vasa3d").write_bytes(struct.pack("<Q", 1 << 62) + b"{}")
    for name in ("huge.vasa3d", "hdr.vasa3d"):
        assert_refused(["speak", work / name, work / "s.wav", "-o", work / "v.mp4"], work, capsys,
                       "not a valid .vasa3d")


# ----------------------------------------------------------------------------------------------- motion files
def test_motion_file_that_is_a_npy(work, capsys):
    np.save(work / "m.npy", np.zeros((10, 59), np.float32))
    shutil.copy(work / "m.npy", work / "m.npz")
    from vasa3d.motion.latent import MotionLatent
    from vasa3d.errors import InputError

    for name in ("m.npy", "m.npz"):
        with pytest.raises(InputError, match="not a vasa3d motion file"):
            MotionLatent.load(work / name)


# ----------------------------------------------------------------------------------------------- datasets
@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory):
    """A whole 40-frame, 32 px dataset of a test pattern in three shards (made in well under a second)."""
    from vasa3d.animate.dataset import DatasetPlan, write_dataset
    from vasa3d.motion.latent import MotionLatent
    from vasa3d.render.camera import Camera

    n, size = 40, 32
    rng = np.random.default_rng(0)
    motion = MotionLatent(rng.uniform(0, 1, (n, 52)), rng.normal(0, 0.1, (n, 7)))
    plan = DatasetPlan(motion, Camera.orbit(width=size, height=size), shard_size=16, test_fraction=0.2)

    def source(i):
        return np.full((size, size, 3), i, np.uint8), np.full((size, size), 255, np.uint8)

    root = tmp_path_factory.mktemp("dataset") / "ds"
    write_dataset(root, plan, source, quiet=True)
    return root


def _huge_plan(m):
    """10 million frames in shards each just under the size limit, with 128 latent names: a plan.npz of 6 GiB."""
    shard = (4 << 30) // (m["width"] * m["height"] * 4)
    return {**m, "frames": 10_000_000, "shard_size": shard, "shards": -(-10_000_000 // shard),
            "latent": {**m["latent"], "dyn_names": [f"w{i}" for i in range(128)]}}


def _edit_manifest(change):
    def edit(root: Path) -> None:
        path = root / "manifest.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return edit


def _without(key):
    return _edit_manifest(lambda m: {k: v for k, v in m.items() if k != key})


def _set(key, value):
    return _edit_manifest(lambda m: {**m, key: value})


def _rewrite_member(npz: Path, name: str, header_shape=None, payload=None, file_size=None) -> None:
    """Rewrite one array of an ``.npz``: its ``.npy`` header claims ``header_shape`` (the data stays), or
    its bytes become ``payload``; or its zip entry claims ``file_size`` bytes."""
    import zipfile

    with zipfile.ZipFile(npz) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(npz, "w") as zf:
        for info, data in members:
            if info.filename == name + ".npy":
                if header_shape is not None:
                    import io

                    buf = io.BytesIO(data)
                    np.lib.format.read_magic(buf)
                    _, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
                    head = io.BytesIO()
                    np.lib.format.write_array_header_1_0(
                        head, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                               "shape": header_shape})
                    data = head.getvalue() + data[buf.tell():]
                if payload is not None:
                    data = payload
            zf.writestr(info, data)
    if file_size is not None:  # patch the central directory's uncompressed size of the member
        raw = bytearray(npz.read_bytes())
        at = raw.rfind(b"PK\x01\x02")
        while at >= 0:
            n = int.from_bytes(raw[at + 28:at + 30], "little")
            if raw[at + 46:at + 46 + n] == (name + ".npy").encode():
                raw[at + 24:at + 28] = file_size.to_bytes(4, "little")
                break
            at = raw.rfind(b"PK\x01\x02", 0, at)
        npz.write_bytes(bytes(raw))


def _npy(array: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _shard(change_kw):
    return lambda root: _rewrite_member(root / "shards" / "000001.npz", **change_kw)


DATASET_CASES = {
    "manifest-missing-frames": (_without("frames"), "no 'frames' field"),
    "manifest-missing-split": (_without("split"), "no 'split' field"),
    "manifest-missing-latent-names": (_edit_manifest(lambda m: {**m, "latent": {"schema": "x"}}), "dyn_names"),
    "manifest-plan-too-large": (_edit_manifest(_huge_plan), "take 6.0 GiB, over 4 GiB"),
    "manifest-latent-names-too-many": (_edit_manifest(lambda m: {**m, "latent": {**m["latent"], "dyn_names": [
        f"w{i}" for i in range(4096)]}}), "has 4096 names, more than the 128"),
    "manifest-version-string": (_set("version", "1"), "'version' is \"1\""),
    "manifest-version-newer": (_set("version", 7), "newer than this vasa3d reads"),
    "manifest-is-a-list": (lambda root: (root / "manifest.json").write_text(
        json.dumps([json.loads((root / "manifest.json").read_text())])), "not a vasa3d dataset manifest"),
    "manifest-width-string": (_set("width", "32"), "'width'"),
    "manifest-width-huge": (_set("width", 10 ** 9), "'width'"),
    "manifest-fps-nan": (_set("fps", float("nan")), "'fps' is NaN"),
    "manifest-complete-string": (_set("complete", "yes"), "'complete'"),
    "manifest-shards-wrong": (_set("shards", 2), "2 shards cannot hold 40 frames"),
    "manifest-frames-more-than-shards": (_edit_manifest(lambda m: {**m, "frames": 48}), "is corrupt"),
    "manifest-portrait-outside": (_set("portrait", "../p.png"), "'portrait' must be a file name"),
    "split-past-the-end": (_edit_manifest(lambda m: {**m, "split": {**m["split"], "test": [[30, 900]]}}),
                           "outside the 40 frames"),
    "split-negative": (_edit_manifest(lambda m: {**m, "split": {**m["split"], "test": [[-5, 2]]}}),
                       "outside the 40 frames"),
    "split-not-pairs": (_edit_manifest(lambda m: {**m, "split": {**m["split"], "test": [3]}}), "outside"),
    "shard-missing": (lambda root: (root / "shards" / "000002.npz").unlink(), "is missing"),
    "shard-truncated": (lambda root: (root / "shards" / "000001.npz").write_bytes(
        (root / "shards" / "000001.npz").read_bytes()[:5000]), "is corrupt"),
    "shard-header-claims-a-billion-frames": (_shard({"name": "rgb", "header_shape": (10 ** 9, 32, 32, 3)}),
                                             "claims shape (1000000000, 32, 32, 3)"),
    "shard-header-claims-fewer-frames": (_shard({"name": "rgb", "header_shape": (8, 32, 32, 3)}), "claims shape"),
    "shard-header-claims-huge-latents": (_shard({"name": "z_dyn", "header_shape": (16, 52 * 10 ** 8)}),
                                         "claims shape"),
    "shard-zip-claims-huge-member": (_shard({"name": "mask", "file_size": 4_000_000_000}), "claims"),
    "shard-wrong-frame-size": (_shard({"name": "rgb", "payload": _npy(np.zeros((16, 16, 16, 3), np.uint8))}),
                               "not uint8 (16, 32, 32, 3)"),
    "shard-pickled-object": (_shard({"name": "index", "payload": _npy(np.array([None] * 16, object))}),
                             "python objects"),
    "plan-header-lies": (lambda root: _rewrite_member(root / "plan.npz", "K", header_shape=(10 ** 8, 3, 3)),
                         "claims shape"),
    "plan-missing": (lambda root: (root / "plan.npz").unlink(), "plan.npz is missing"),
}


#: every case through 'dataset preview'; these through 'train' and 'eval' as well (the same reader)
THREE_COMMANDS = ["manifest-is-a-list", "manifest-version-string", "split-past-the-end",
                  "shard-header-claims-a-billion-frames", "plan-header-lies"]


@pytest.mark.parametrize("case, command", [(c, "preview") for c in sorted(DATASET_CASES)]
                         + [(c, cmd) for c in THREE_COMMANDS for cmd in ("train", "eval")])
def test_hostile_datasets(case, command, work, good_dataset, capsys):
    change, expect = DATASET_CASES[case]
    ds = work / "bad-ds"
    shutil.copytree(good_dataset, ds)
    change(ds)
    argv = {"preview": ["dataset", "preview", ds, "-o", work / "sheet.png"],
            "train": ["train", ds, "-o", work / "n.vasa3d", "--portrait", work / "p.png"],
            "eval": ["eval", work / "a.vasa3d", ds, "-o", work / "report"]}[command]
    assert_refused(argv, work, capsys, expect)


def test_the_good_dataset_passes(work, good_dataset, capsys):
    """The unedited dataset goes through the same checks (the cases above fail for their edit only)."""
    shutil.copytree(good_dataset, work / "ds-ok")
    assert main(["dataset", "preview", str(work / "ds-ok"), "-o", str(work / "sheet.png"), "--count", "4"]) == 0
    assert (work / "sheet.png").stat().st_size > 0


# ----------------------------------------------------------------------------------------------- diffusion models
def _model_with(path: Path, change) -> None:
    """A tiny audio-to-motion model file, its metadata and tensors passed through ``change``."""
    from safetensors.torch import save_file

    from vasa3d.motion.diffusion import DiffusionConfig, DiffusionModel

    model = DiffusionModel(DiffusionConfig(d_model=16, layers=1, heads=2, sample_steps=2))
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "vasa3d-audio2motion", "version": "2", "config": json.dumps(dataclasses.asdict(model.cfg))}
    meta, tensors = change(meta, tensors)
    save_file(tensors, str(path), metadata=meta)


def _config(**fields):
    return lambda m, t: ({**m, "config": json.dumps({**json.loads(m["config"]), **fields})}, t)


def _tensor(name, value):
    return lambda m, t: (m, {**t, name: value} if value is not None else {k: v for k, v in t.items() if k != name})


MODEL_CASES = {
    "tensor-missing": (_tensor("net.out.weight", None), "missing: net.out.weight"),
    "tensor-extra": (_tensor("net.extra", torch.zeros(3)), "unexpected: net.extra"),
    "tensor-wrong-shape": (_tensor("net.out.weight", torch.zeros(59, 8)), "tensor net.out.weight is"),
    "tensor-float64": (_tensor("motion_mean", torch.zeros(59, dtype=torch.float64)),
                       "tensor motion_mean is F64"),
    "tensor-nan": (_tensor("motion_std", torch.full((59,), float("nan"))), "NaN"),
    "config-not-json": (lambda m, t: ({**m, "config": "{oops"}, t), "no readable model config"),
    "config-missing": (lambda m, t: ({k: v for k, v in m.items() if k != "config"}, t), "no readable model config"),
    "config-width-string": (_config(d_model="16"), "d_model"),
    "config-unknown-field": (_config(dropout=0.1), "unknown model config field 'dropout'"),
    "config-huge-width": (_config(d_model=8192, heads=2), "tensor"),
    "config-width-too-big": (_config(d_model=10 ** 6), "d_model"),
    "config-heads-do-not-divide": (_config(heads=3), "3 heads for width 16"),
    "config-fps-bool": (_config(fps=True), "fps"),
    "encoder-identity-garbage": (lambda m, t: ({**m, "speech_encoder": "[1, 2]"}, t), "speech-encoder identity"),
    "format-wrong": (lambda m, t: ({**m, "format": "other"}, t), "not a vasa3d audio-to-motion model"),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_hostile_diffusion_models(case, work, capsys):
    change, expect = MODEL_CASES[case]
    _model_with(work / "m.safetensors", change)
    assert_refused(["speak", work / "a.vasa3d", work / "s.wav", "-o", work / "v.mp4", "--generator", "diffusion",
                    "--diffusion-model", work / "m.safetensors"], work, capsys, expect)


def test_a_diffusion_model_through_motion(work, capsys):
    _model_with(work / "m.safetensors", _tensor("net.out.weight", None))
    assert_refused(["motion", work / "s.wav", "-o", work / "m.npz", "--diffusion-model", work / "m.safetensors"],
                   work, capsys, "missing: net.out.weight")
    _model_with(work / "ok.safetensors", lambda m, t: (m, t))  # the unedited file loads
    from vasa3d.motion.diffusion import DiffusionModel

    assert DiffusionModel.load(work / "ok.safetensors").cfg.d_model == 16


def test_the_cap_turns_a_huge_allocation_into_a_memory_error():
    """The cap is real: what overcommit would grant lazily fails under it, and the limit comes back after."""
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with address_space_cap() as cap:
        with pytest.raises(MemoryError):
            np.empty(cap, np.uint8)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


# ----------------------------------------------------------------------------------------------- motion headers
def _motion_file(path: Path, **change) -> None:
    """A real motion file, one member's ``.npy`` header replaced (``z_dyn=(shape)``) to claim another size."""
    from vasa3d.motion.latent import MotionLatent

    MotionLatent(np.zeros((10, 52), np.float32), np.zeros((10, 7), np.float32)).save(path)
    for name, shape in change.items():
        _rewrite_member(path, name, header_shape=shape)


MOTION_HEADER_CASES = {
    "z-dyn-claims-a-billion-frames": ({"z_dyn": (10 ** 9, 52)}, "claims shape (1000000000, 52)"),
    "z-pose-claims-fewer-frames": ({"z_pose": (5, 7)}, "claims shape (5, 7)"),
    "meta-claims-a-terabyte": ({"meta": (1 << 40,)}, "claims shape"),
    "frames-disagree": ({"z_dyn": (5, 104)}, "do not fit together"),
}


@pytest.mark.parametrize("case", sorted(MOTION_HEADER_CASES))
def test_motion_files_whose_headers_lie(case, work, capsys):
    change, expect = MOTION_HEADER_CASES[case]
    _motion_file(work / "m.npz", **change)
    assert_refused(["render", work / "a.vasa3d", work / "m.npz", "-o", work / "v.mp4"], work, capsys, expect)
