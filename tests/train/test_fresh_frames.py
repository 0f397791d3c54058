"""Training on fresh frames from the animator (issue 14, item 5): the frames of each step, resume, refusal."""

import dataclasses

import numpy as np
import pytest
import torch

import scenes
from vasa3d.errors import VasaError
from vasa3d.train import CheckpointError, TrainConfig, Trainer


def _cfg(**kw) -> TrainConfig:
    settings = dict(iterations=6, batch_size=2, log_every=1, lr_sh=1e-2, fresh_frames=True, fresh_workers=0,
                    checkpoint_every=3, consistency=True, adversarial=True)
    settings.update(kw)
    return dataclasses.replace(TrainConfig.preset("demo"), **settings)


def _scene(head, seed=0, workers=0):
    student, data, teacher = scenes.student_and_data(head, size=40, n_gaussians=600)
    return student, data, scenes.fresh_stream(teacher, data[0].camera, seed=seed, workers=workers)


def test_each_step_trains_on_its_own_draws_rendered_by_the_animator(head):
    student, data, fresh = _scene(head, seed=4)
    trainer = Trainer(student, data, _cfg(region="frame"), quiet=True, fresh=fresh)
    trainer.step = 5
    images, masks, z_dyn, z_pose, _ = trainer._batch()
    for b, k in enumerate((10, 11)):  # step 5 at batch 2: draws 10 and 11
        zd, zp = fresh.motion.latents(k)
        rgb, alpha = fresh.animator(zd, zp, fresh.camera)  # the animator itself, for the same latents
        assert torch.equal(z_dyn[b], torch.from_numpy(zd)) and torch.equal(z_pose[b], torch.from_numpy(zp))
        assert torch.equal(images[b], torch.from_numpy(rgb.astype(np.float32) / 255))
        mask = np.clip(np.rint(alpha * 255), 0, 255) / 255  # stored as the dataset stores masks
        np.testing.assert_allclose(masks[b][..., 0].numpy(), mask, atol=1e-6)
    # draws are different frames: poses differ between the two frames of a step and from step 4's
    trainer.step = 4
    before = trainer._batch()[3]
    assert float((z_pose[0] - z_pose[1]).abs().max()) > 1e-3
    assert float((before - z_pose).abs().max()) > 1e-3


def test_fresh_frames_come_with_their_head_region_made_by_the_workers(head):
    from vasa3d.train.regions import head_region

    student, data, fresh = _scene(head, seed=2, workers=1)
    trainer = Trainer(student, data, _cfg(), quiet=True, fresh=fresh)
    trainer.step = 2
    _, masks, z_dyn, z_pose, cams = trainer._batch()
    assert fresh._pool is not None  # rendered, and the regions made, by the worker
    fresh.close()
    for b in range(2):
        want = head_region(trainer._region_avatar, z_dyn[b], z_pose[b], cams[b], trainer.config.head_margin)
        want = want.to(torch.bool)
        assert 0.05 < float(want.float().mean()) < 0.95  # a head, not the whole frame nor nothing
        assert torch.equal(masks[b], fresh[4 + b].mask * want)
    assert trainer._regions == {}  # nothing cached per frame: a fresh frame is seen once


def test_fresh_training_resumes_to_the_uninterrupted_result(head, tmp_path):
    cfg = _cfg()
    student, data, fresh = _scene(head)
    full_trainer = Trainer(student, data, cfg, log_dir=tmp_path / "a", quiet=True, fresh=fresh)
    full = full_trainer.run()

    student2, data2, fresh2 = _scene(head)
    t = Trainer(student2, data2, cfg, log_dir=tmp_path / "b", quiet=True, fresh=fresh2)
    while t.step < 3:  # run to the first checkpoint, then "kill" (drop the trainer) and resume in a new one
        t.train_step()
        t.step += 1
    t.save(t.checkpoint_path)
    del t
    # the resumed run renders in two worker processes: the count of workers does not change the frames
    student3, data3, fresh3 = _scene(head, workers=2)
    resumed_trainer = Trainer(student3, data3, dataclasses.replace(cfg, fresh_workers=2), log_dir=tmp_path / "b",
                              quiet=True, fresh=fresh3)
    resumed = resumed_trainer.run()
    assert fresh3._pool is None  # the run ended its workers
    a, b = full.export()[1], resumed.export()[1]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
    la = [h["loss"] for h in full_trainer.history if h["step"] > 3]
    lb = [h["loss"] for h in resumed_trainer.history]
    assert len(la) == len(lb) == 3
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    # the avatar did learn from the frames: its loss fell over six steps of different frames
    losses = [h["loss"] for h in full_trainer.history]
    assert losses[-1] < losses[0]


def test_resume_with_other_fresh_frames_is_refused(head, tmp_path):
    student, data, fresh = _scene(head)
    Trainer(student, data, _cfg(iterations=2, checkpoint_every=2), log_dir=tmp_path, quiet=True, fresh=fresh).run()
    ckpt = (tmp_path / "checkpoint.safetensors").read_bytes()
    student, data, _ = _scene(head)
    with pytest.raises(CheckpointError, match="fresh_frames True -> False"):
        Trainer(student, data, _cfg(iterations=4, checkpoint_every=2, fresh_frames=False), log_dir=tmp_path,
                quiet=True).run()
    student, data, other = _scene(head, seed=1)  # the same settings, another stream of frames
    with pytest.raises(CheckpointError, match="changed: fresh"):
        Trainer(student, data, _cfg(iterations=4, checkpoint_every=2), log_dir=tmp_path, quiet=True,
                fresh=other).run()
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == ckpt


def test_fresh_frames_without_an_animator_is_one_clear_error(head):
    student, data, _ = _scene(head)
    with pytest.raises(VasaError, match="--no-fresh-frames"):
        Trainer(student, data, _cfg(), quiet=True)


def test_presets_that_draw_fresh_frames():
    on = {name: TrainConfig.preset(name).fresh_frames for name in ("demo", "cpu-quick", "gpu", "paper")}
    assert on == {"demo": False, "cpu-quick": False, "gpu": True, "paper": True}


def test_train_command_on_a_dataset_without_an_animator_says_so_and_uses_its_frames(head, tmp_path, capsys):
    from test_commands import _dataset_folder

    from vasa3d.cli import main
    from vasa3d.io import save_avatar

    _, data, teacher = scenes.student_and_data(head, size=32, n_frames=6, n_test=2, n_gaussians=300)
    ds = _dataset_folder(data, tmp_path / "ds")  # written by hand: no animator recorded
    save_avatar(tmp_path / "teacher.vasa3d", teacher)
    capsys.readouterr()
    code = main(["train", str(ds.root), "-o", str(tmp_path / "out.vasa3d"), "--init", str(tmp_path / "teacher.vasa3d"),
                 "--preset", "demo", "--fresh-frames", "--iterations", "2", "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "fresh frames off" in out
    from vasa3d.train.checkpoint import load_checkpoint

    meta, _ = load_checkpoint(tmp_path / "out.vasa3d.train" / "checkpoint.safetensors")
    assert meta["trained_on"]["settings"]["fresh_frames"] is False and "fresh" not in meta["trained_on"]
