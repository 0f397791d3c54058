"""A checkpoint resumes only the run it was made by (issue 15): same dataset, start and settings."""

import json

import pytest
import scenes
from test_commands import _dataset_folder

from vasa3d.cli import main
from vasa3d.io import save_avatar


def _train(capsys, ds, out, init, *extra):
    capsys.readouterr()
    code = main(["train", str(ds), "-o", str(out), "--init", str(init), "--preset", "demo",
                 "--checkpoint-every", "2", "-q", *extra])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def trained(head, tmp_path, capsys):
    _, data, teacher = scenes.student_and_data(head, size=32, n_frames=6, n_test=2, n_gaussians=300)
    ds = _dataset_folder(data, tmp_path / "ds")
    save_avatar(tmp_path / "teacher.vasa3d", teacher)
    code, err = _train(capsys, ds.root, tmp_path / "out.vasa3d", tmp_path / "teacher.vasa3d", "--iterations", "3")
    assert code == 0, err
    return tmp_path, ds


def test_changed_iterations_or_seed_is_refused_naming_the_folder(trained, capsys):
    tmp_path, ds = trained
    ckpt = tmp_path / "out.vasa3d.train" / "checkpoint.safetensors"
    before = ckpt.read_bytes()
    for extra, changed in ((["--iterations", "5"], "iterations 3 -> 5"), (["--iterations", "3", "--seed", "1"],
                                                                           "seed 0 -> 1")):
        code, err = _train(capsys, ds.root, tmp_path / "out.vasa3d", tmp_path / "teacher.vasa3d", *extra)
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
        assert changed in err[0] and f"delete {tmp_path / 'out.vasa3d.train'}" in err[0]
    assert ckpt.read_bytes() == before
    # the same settings resume (nothing left to do) and settings that do not matter may change
    code, err = _train(capsys, ds.root, tmp_path / "out.vasa3d", tmp_path / "teacher.vasa3d", "--iterations", "3",
                       "--checkpoint-every", "1", "--log-every", "7")
    assert code == 0, err


def test_another_start_avatar_or_dataset_is_refused(trained, capsys, head):
    tmp_path, ds = trained
    other = tmp_path / "other.vasa3d"
    _, _, teacher2 = scenes.student_and_data(head, size=32, n_frames=6, n_test=2, n_gaussians=301)
    save_avatar(other, teacher2)
    code, err = _train(capsys, ds.root, tmp_path / "out.vasa3d", other, "--iterations", "3")
    assert code == 2 and "changed: init" in err[0]
    manifest = json.loads((ds.root / "manifest.json").read_text())
    manifest["plan"] = "0" * 16  # the same folder now holds another dataset
    (ds.root / "manifest.json").write_text(json.dumps(manifest))
    code, err = _train(capsys, ds.root, tmp_path / "out.vasa3d", tmp_path / "teacher.vasa3d", "--iterations", "3")
    assert code == 2 and "changed: dataset" in err[0]
