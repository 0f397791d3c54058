"""``vasa3d create`` takes the plug-in weights ``train`` takes (issue 14, item 4): VGG16 for LPIPS, LPIPS's
linear layers and Stable Diffusion for SDS; bad paths end in one line before any work."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data

from vasa3d.cli import main
from vasa3d.io import save_image
from vasa3d.pipeline import CreateConfig, create
from vasa3d.train.losses.perceptual import LPIPS, VGG16Features
from vasa3d.train.trainer import Trainer


@pytest.fixture
def weights(tmp_path):
    """A VGG16 feature file in torchvision's layout and LPIPS linear layers (random values, real shapes)."""
    torch.manual_seed(0)
    vgg = VGG16Features()
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, tmp_path / "vgg16.pth")
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}
    save_file(lins, str(tmp_path / "lpips.safetensors"))
    return tmp_path / "vgg16.pth", tmp_path / "lpips.safetensors", vgg, lins


def test_create_trains_with_the_given_lpips_weights(tmp_path, weights, monkeypatch):
    vgg_path, lin_path, vgg, lins = weights
    seen = {}

    def stop_before_training(self):  # the objective is built; the training itself is not what is tested
        seen["perceptual"] = self.objective.perceptual
        seen["config"] = self.config
        return self.avatar

    monkeypatch.setattr(Trainer, "run", stop_before_training)
    image = data.astronaut()
    create(image, tmp_path / "a.vasa3d",
           CreateConfig(preset="gpu", frames=2, iterations=2, vgg_weights=str(vgg_path), lpips_weights=str(lin_path)),
           quiet=True, log=lambda *_: None)
    net = seen["perceptual"]
    assert isinstance(net, LPIPS)
    assert seen["config"].vgg_weights == str(vgg_path) and seen["config"].lpips_weights == str(lin_path)
    assert torch.equal(net.net.features[0].weight, vgg.features[0].weight)
    assert torch.equal(net.lins[3].data, lins["lin3.model.1.weight"])
    face = torch.from_numpy(image[100:164, 170:234].astype(np.float32) / 255)[None]
    assert float(net(face, face)) == 0.0 and float(net(face.flip(1), face)) > 0.01


def _one_error_line(argv, tmp_path, capsys, expect):
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and expect in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("flags,expect", [
    (["--vgg-weights", "missing.pth"], "--vgg-weights: no file"),
    (["--lpips-weights", "LIN"], "give --vgg-weights too"),
    (["--sds-weights", "missing-sd"], "--sds-weights"),
    (["--sds-weights", "HALF_SD"], "lacks unet, text_encoder, tokenizer, scheduler"),
])
def test_create_refuses_bad_plugin_paths_before_any_work(tmp_path, weights, capsys, flags, expect):
    _, lin_path, _, _ = weights
    (tmp_path / "sd" / "vae").mkdir(parents=True)
    save_image(tmp_path / "astronaut.png", data.astronaut())
    flags = [{"LIN": str(lin_path), "HALF_SD": str(tmp_path / "sd"), "missing.pth": str(tmp_path / "missing.pth"),
              "missing-sd": str(tmp_path / "missing-sd")}.get(f, f) for f in flags]
    _one_error_line(["create", str(tmp_path / "astronaut.png"), "-o", str(tmp_path / "a.vasa3d"), *flags],
                    tmp_path, capsys, expect)


def test_create_refuses_to_write_over_a_weights_file(tmp_path, weights, capsys):
    vgg_path, _, _, _ = weights
    target = vgg_path.with_suffix(".vasa3d")
    vgg_path.rename(target)
    save_image(tmp_path / "astronaut.png", data.astronaut())
    _one_error_line(["create", str(tmp_path / "astronaut.png"), "-o", str(target), "--vgg-weights", str(target)],
                    tmp_path, capsys, "")
