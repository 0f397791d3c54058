import dataclasses

import pytest
import torch

import scenes
from vasa3d.train import CheckpointError, TrainConfig, Trainer


def _quick(**kw) -> TrainConfig:
    base = TrainConfig.preset("demo")
    settings = dict(iterations=60, batch_size=1, log_every=10, lr_sh=1e-2)
    settings.update(kw)
    return dataclasses.replace(base, **settings)


def test_training_fits_held_out_frames(head):
    student, data, _ = scenes.student_and_data(head, size=40, n_gaussians=800)
    before = scenes.psnr_on(student, data, data.test_indices)
    trainer = Trainer(student, data, _quick(), quiet=True)
    avatar = trainer.run()
    after = scenes.psnr_on(avatar, data, data.test_indices)
    assert after > before + 4.0, (before, after)
    losses = [h["loss"] for h in trainer.history]
    assert losses[-1] < 0.6 * losses[0]


def test_resume_gives_the_uninterrupted_result(head, tmp_path):
    cfg = _quick(iterations=6, checkpoint_every=3, consistency=True, adversarial=True)
    student, data, _ = scenes.student_and_data(head, size=40, n_gaussians=600)
    full = Trainer(student, data, cfg, log_dir=tmp_path / "a", quiet=True).run()

    student2, data2, _ = scenes.student_and_data(head, size=40, n_gaussians=600)
    t = Trainer(student2, data2, cfg, log_dir=tmp_path / "b", quiet=True)
    # run to the first checkpoint, then "kill" (drop the trainer) and resume in a new one
    while t.step < 3:
        t.train_step()
        t.step += 1
    t.save(t.checkpoint_path)
    del t
    student3, data3, _ = scenes.student_and_data(head, size=40, n_gaussians=600)
    resumed = Trainer(student3, data3, cfg, log_dir=tmp_path / "b", quiet=True).run()
    a, b = full.export()[1], resumed.export()[1]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_corrupt_or_truncated_checkpoint_is_reported(head, tmp_path):
    student, data, _ = scenes.student_and_data(head, n_gaussians=300)
    t = Trainer(student, data, _quick(iterations=1), log_dir=tmp_path, quiet=True)
    t.run()
    path = t.checkpoint_path
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        Trainer(student, data, _quick(iterations=2), log_dir=tmp_path, quiet=True).run()
    flipped = bytearray(raw)
    flipped[-10] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum"):
        Trainer(student, data, _quick(iterations=2), log_dir=tmp_path, quiet=True).run()


@pytest.mark.parametrize("preset", ["demo", "cpu-quick", "gpu", "paper"])
def test_every_preset_trains_two_steps(head, preset, tmp_path):
    """Each real preset, shrunk (tiny images, two main steps, one CAS step), with all its losses on."""
    student, data, teacher = scenes.student_and_data(head, size=40, n_frames=4, n_test=1, n_gaussians=400)
    cfg = TrainConfig.preset(preset)
    cfg = dataclasses.replace(cfg, iterations=2, cas_iterations=1 if cfg.cas_iterations else 0, cas_with_standin=True,
                              batch_size=min(cfg.batch_size, 2),
                              densify_start=0, densify_interval=1, densify_stop=PAPER_LEN, device="cpu",
                              preview_every=2, log_every=1, checkpoint_every=2)
    fresh = scenes.fresh_stream(teacher, data[0].camera) if cfg.fresh_frames else None  # gpu, paper
    trainer = Trainer(student, data, cfg, log_dir=tmp_path, quiet=True, fresh=fresh)
    avatar = trainer.run()
    terms = trainer.history[-1]
    assert all(torch.isfinite(torch.tensor(v)) for v in terms.values())
    if preset in ("gpu", "paper"):
        assert {"recon", "recon_base", "perceptual", "adv", "consist", "cas", "disc"} <= set(terms)
    assert (tmp_path / "tensorboard").is_dir()
    assert avatar.n_gaussians > 0


def test_cas_is_skipped_with_the_standin_perceptual_network(head):
    """CAS at lambda 10 with EfficientNet-Lite0 features diverged on the astronaut; it runs only with LPIPS-VGG."""
    student, data, _ = scenes.student_and_data(head, size=40, n_frames=4, n_test=1, n_gaussians=400)
    cfg = dataclasses.replace(TrainConfig.preset("gpu"), iterations=2, cas_iterations=3, batch_size=1, device="cpu",
                              fresh_frames=False,
                              adversarial=False, densify=False, checkpoint_every=0, preview_every=0, log_every=1)
    trainer = Trainer(student, data, cfg, quiet=True)
    assert trainer.config.cas_iterations == 0 and trainer.total_iterations == 2
    trainer.run()
    assert all("cas" not in h for h in trainer.history)
    forced = Trainer(student, data, dataclasses.replace(cfg, cas_with_standin=True), quiet=True)
    assert forced.total_iterations == 5


PAPER_LEN = 200_000
