import pytest
import torch

import fake_head
from vasa3d.gaussians import AvatarConfig, GaussianAvatar
from vasa3d.gaussians.inference import FrozenAvatar
from vasa3d.render import rasterize


def _trained_like(head, n=3000, **kw):
    """An avatar whose every network and Gaussian has moved off its initial value, as after training."""
    head, fit, analysis = fake_head.portrait_scene(96, head)
    avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=n, hidden=64, **kw))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in avatar.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return avatar, fit


@pytest.mark.parametrize("vas", [True, False])
def test_frozen_avatar_matches_deform(head, vas):
    avatar, _ = _trained_like(head, vas=vas)
    frozen = FrozenAvatar(avatar)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        z = torch.rand(1, 52, generator=gen)
        p = torch.randn(1, 7, generator=gen) * 0.1
        want = avatar(z, p)[0]
        got = frozen(z[0], p[0])
        residual_scale = (want.means - avatar(z, p, vas=False)[0].means).abs().max()
        if vas:
            assert residual_scale > 1e-3  # the VAS networks really act
        for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
            a, b = getattr(want, name), getattr(got, name)
            assert a.shape == b.shape, name
            assert torch.allclose(a, b, atol=2e-6, rtol=1e-5), (name, (a - b).abs().max())


@pytest.mark.parametrize("precision", ["int8", "bfloat16"])
def test_reduced_precision_stays_close_in_the_image(head, precision):
    avatar, fit = _trained_like(head)
    exact, fast = FrozenAvatar(avatar), FrozenAvatar(avatar, precision=precision)
    if precision == "bfloat16" and fast.precision != "bfloat16":
        pytest.skip("this torch build or CPU has no oneDNN bf16 linear kernels (the float32 path runs instead)")
    z, p = torch.full((52,), 0.3), torch.zeros(7)
    a = rasterize(exact(z, p), fit.camera, 96, 96).color
    b = rasterize(fast(z, p), fit.camera, 96, 96).color
    mse = float(((a - b) ** 2).mean())
    psnr = 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12)))
    assert psnr > 40.0
    assert not torch.equal(a, b)  # the reduced-precision path really runs


def test_best_cpu_precision_names_a_precision_frozen_avatar_takes(head):
    from vasa3d.gaussians.inference import best_cpu_precision

    avatar, _ = _trained_like(head, n=500)
    precision = best_cpu_precision()
    assert FrozenAvatar(avatar, precision).precision == precision
