import json

import numpy as np

import scenes
from vasa3d.animate.dataset import DatasetPlan, write_dataset
from vasa3d.cli import main
from vasa3d.io import load_avatar, save_avatar
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera


def _dataset_folder(data, root):
    z_dyn = np.stack([data[i].z_dyn.numpy() for i in range(len(data))])
    z_pose = np.stack([data[i].z_pose.numpy() for i in range(len(data))])
    cams = Camera.stack([data[i].camera for i in range(len(data))])
    plan = DatasetPlan(MotionLatent(z_dyn, z_pose), cams, seed=0, shard_size=4, test_fraction=0.25)

    def source(i):
        s = data[i]
        return (s.image.numpy() * 255 + 0.5).astype(np.uint8), s.mask.numpy()[..., 0]

    return write_dataset(root, plan, source, quiet=True)


def test_train_and_eval_commands(head, tmp_path, capsys):
    _, data, teacher = scenes.student_and_data(head, size=40, n_frames=8, n_test=2, n_gaussians=600)
    ds = _dataset_folder(data, tmp_path / "ds")
    save_avatar(tmp_path / "teacher.vasa3d", teacher)

    # the teacher renders its whole neck (it made these frames), so it is compared in the whole head region,
    # not in the region that fades down the neck as training now teaches (eval's default)
    rc = main(["eval", str(tmp_path / "teacher.vasa3d"), str(ds.root), "-o", str(tmp_path / "report"),
               "--perceptual", "off", "--no-identity", "--no-neck-fade", "--no-lipsync", "-q"])
    assert rc == 0
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["psnr"] > 30 and metrics["frames"] == len(ds.test_indices)
    assert (tmp_path / "report" / "report.png").exists()

    rc = main(["train", str(ds.root), "-o", str(tmp_path / "out.vasa3d"), "--init", str(tmp_path / "teacher.vasa3d"),
               "--preset", "demo", "--iterations", "3", "--checkpoint-every", "2", "-q"])
    assert rc == 0
    trained = load_avatar(tmp_path / "out.vasa3d")
    assert trained.n_gaussians == teacher.n_gaussians
    assert (tmp_path / "out.vasa3d.train" / "checkpoint.safetensors").exists()

    capsys.readouterr()
    rc = main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "x.vasa3d"), "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error:") and len(err.splitlines()) == 1
    assert not (tmp_path / "x.vasa3d").exists()
