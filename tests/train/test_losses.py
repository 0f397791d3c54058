import numpy as np
import pytest
import torch
from skimage import data
from skimage.filters import gaussian

from vasa3d.errors import MissingAssetError
from vasa3d.train.losses import l1_loss, position_loss, scale_loss, ssim_loss
from vasa3d.train.losses.adversarial import AdversarialLoss
from vasa3d.train.losses.cas import cas_filter, cas_loss
from vasa3d.train.losses.perceptual import LPIPS, VGG16Features, EfficientNetPerceptual, build_perceptual


@pytest.fixture(scope="module")
def face():
    img = data.astronaut()[40:232, 140:332].astype(np.float32) / 255
    return torch.from_numpy(img)[None]


def test_l1_and_masked_l1():
    a = torch.zeros(1, 4, 4, 3)
    b = torch.ones(1, 4, 4, 3)
    assert float(l1_loss(a, b)) == 1.0
    m = torch.zeros(1, 4, 4, 1)
    m[:, :2] = 1
    b2 = b.clone()
    b2[:, :2] = 0
    assert float(l1_loss(a, b2, m)) == 0.0


def test_ssim_loss_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 7, 7, 1, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 7, 7, 1, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: ssim_loss(a, y, window=5), (x,))
    assert float(ssim_loss(y, y)) < 1e-6


def test_regularisers_only_penalise_beyond_thresholds():
    means = torch.tensor([[0.5, 0.0, 0.0], [3.0, 0.0, 0.0]])
    assert abs(float(position_loss(means, 1.0)) - 1.0) < 1e-6  # (0 + 2) / 2
    log_s = torch.log(torch.tensor([[0.5, 0.5, 0.5], [1.6, 0.5, 0.5]]))
    assert abs(float(scale_loss(log_s, 0.6)) - 1.0 / 6) < 1e-6


def test_efficientnet_perceptual_ranks_distortions(face):
    net = EfficientNetPerceptual()
    blurred = torch.from_numpy(gaussian(face[0].numpy(), sigma=1.0, channel_axis=2).astype(np.float32))[None]
    very = torch.from_numpy(gaussian(face[0].numpy(), sigma=4.0, channel_axis=2).astype(np.float32))[None]
    noise = (face + 0.3 * torch.randn(face.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    d = [float(net(x, face)) for x in (face, blurred, very, noise)]
    assert d[0] == 0.0 and 0 < d[1] < d[2] and d[3] > d[1]
    # the ImageNet weights really are loaded: a random network ranks blur differently
    assert d[2] > 0.2


def test_lpips_vgg_from_user_files_in_real_formats(tmp_path, face):
    """Random VGG16 + LPIPS weights saved like torchvision / LPIPS ship them load and give a metric."""
    torch.manual_seed(0)
    vgg = VGG16Features()
    state = {f"features.{k}": v for k, v in vgg.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision files also hold the classifier
    torch.save(state, tmp_path / "vgg16-397923af.pth")
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}
    from safetensors.torch import save_file

    save_file(lins, str(tmp_path / "lpips_vgg.safetensors"))
    net = build_perceptual("auto", str(tmp_path / "vgg16-397923af.pth"), str(tmp_path / "lpips_vgg.safetensors"))
    assert isinstance(net, LPIPS)
    assert torch.equal(net.net.features[0].weight, vgg.features[0].weight)
    assert torch.equal(net.lins[2].data, lins["lin2.model.1.weight"])
    small = face[:, :64, :64]
    other = small.flip(1)
    assert float(net(small, small)) == 0.0 and float(net(other, small)) > 0
    x = small.clone().requires_grad_(True)
    net(x, other).sum().backward()
    assert x.grad.abs().sum() > 0


def test_missing_or_bad_weights_say_what_to_supply(tmp_path):
    with pytest.raises(MissingAssetError, match="vgg-weights"):
        build_perceptual("lpips-vgg")
    with pytest.raises(MissingAssetError, match="not found"):
        build_perceptual("lpips-vgg", str(tmp_path / "nope.pth"))
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(MissingAssetError, match="lack"):
        build_perceptual("lpips-vgg", str(tmp_path / "partial.pth"))


def test_cas_sharpens_edges_and_keeps_flat_areas(face):
    soft = torch.from_numpy(gaussian(face[0].numpy(), sigma=1.5, channel_axis=2).astype(np.float32))[None]
    sharp = cas_filter(soft, 1.0)
    flat = torch.full((1, 8, 8, 3), 0.4)
    assert torch.allclose(cas_filter(flat), flat, atol=1e-6)

    def lap_energy(x):
        x = x[0].mean(-1)
        return float((4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]).abs().mean())

    assert lap_energy(sharp) > 1.15 * lap_energy(soft)  # CAS is deliberately mild (lobe <= 1/5)
    net = EfficientNetPerceptual()
    x = soft.clone().requires_grad_(True)
    loss = cas_loss(net, x)
    loss.backward()
    assert float(loss) > 0 and x.grad.abs().sum() > 0


def test_discriminators_learn_to_separate_real_from_fake(face):
    torch.manual_seed(0)
    adv = AdversarialLoss()
    opt = torch.optim.Adam(adv.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = face[:, :64, :64]
    fake = torch.from_numpy(gaussian(real[0].numpy(), sigma=2.0, channel_axis=2).astype(np.float32))[None]
    first = float(adv.discriminator_loss(real, fake))
    for _ in range(20):
        opt.zero_grad()
        d = adv.discriminator_loss(real, fake)
        d.backward()
        opt.step()
    assert float(adv.discriminator_loss(real, fake)) < 0.5 * first
    assert len(adv.disc(real)) == 3
    g = fake.clone().requires_grad_(True)
    adv(g).backward()
    assert g.grad.abs().sum() > 0
