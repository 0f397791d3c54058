"""SDS maths with stand-ins that have the diffusers call interface (the real model needs user weights)."""

import dataclasses
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import scenes
from vasa3d.errors import MissingAssetError
from vasa3d.train import TrainConfig, Trainer
from vasa3d.train.losses import sds as sds_mod
from vasa3d.train.losses.sds import DiffusionParts, SDSLoss, load_stable_diffusion

ALPHAS = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)


class PoolVAE(nn.Module):
    """'Encodes' an image as its 8x8-pooled RGB plus a constant channel (4 latent channels)."""

    config = SimpleNamespace(scaling_factor=1.0)

    def encode(self, x):
        z = nn.functional.avg_pool2d(x, 8)
        z = torch.cat([z, torch.ones_like(z[:, :1])], 1)
        return SimpleNamespace(latent_dist=SimpleNamespace(sample=lambda: z))


class IdealDenoiser(nn.Module):
    """The exact noise predictor for data that is always ``target`` (conditioned), or ``prediction`` kind."""

    def __init__(self, target, kind="epsilon"):
        super().__init__()
        self.target, self.kind = target, kind

    def forward(self, noisy, t, encoder_hidden_states):
        a = ALPHAS[t].reshape(-1, 1, 1, 1)
        eps = (noisy - a.sqrt() * self.target) / (1 - a).sqrt()
        if self.kind == "v_prediction":
            out = a.sqrt() * eps - (1 - a).sqrt() * self.target
        else:
            out = eps
        return SimpleNamespace(sample=out)


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction"])
def test_sds_pulls_the_render_toward_what_the_model_believes(kind):
    target_img = torch.zeros(1, 64, 64, 3)
    target_img[..., 0] = 0.8
    target = PoolVAE().encode(target_img.permute(0, 3, 1, 2) * 2 - 1).latent_dist.sample()
    parts = DiffusionParts(IdealDenoiser(target, kind), PoolVAE(), ALPHAS, kind, torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    loss_fn = SDSLoss(parts, guidance=1.0, grad_scale=1.0, resolution=64, generator=torch.Generator().manual_seed(0))
    img = torch.full((1, 64, 64, 3), 0.3, requires_grad=True)
    opt = torch.optim.SGD([img], lr=10.0)
    start = float((img.detach() - target_img).abs().mean())
    for _ in range(40):
        opt.zero_grad()
        loss_fn(img).backward()
        opt.step()
    end = float((img.detach() - target_img).abs().mean())
    assert end < 0.3 * start


def test_missing_weights_and_packages_are_reported(tmp_path):
    with pytest.raises(MissingAssetError, match="not found"):
        load_stable_diffusion(str(tmp_path / "sd21"), "x", torch.device("cpu"))
    (tmp_path / "sd21").mkdir()
    with pytest.raises(MissingAssetError, match="diffusers|lacks"):
        load_stable_diffusion(str(tmp_path / "sd21"), "x", torch.device("cpu"))


def test_trainer_applies_sds_to_both_sets_every_n_steps(head, monkeypatch):
    target = torch.zeros(1, 4, 5, 5)
    parts = DiffusionParts(IdealDenoiser(target), PoolVAE(), ALPHAS, "epsilon", torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    monkeypatch.setattr(sds_mod, "load_stable_diffusion", lambda *a, **k: parts)
    student, data, _ = scenes.student_and_data(head, size=40, n_frames=4, n_test=1, n_gaussians=300)
    cfg = dataclasses.replace(TrainConfig.preset("demo"), iterations=4, log_every=1, sds_weights="given", sds_every=2,
                              sds_resolution=40, base_losses=True)
    trainer = Trainer(student, data, cfg, quiet=True)
    trainer.run()
    has = ["sds" in h for h in trainer.history]
    assert has == [True, False, True, False]
