"""Three multi-scale patch discriminators and the hinge adversarial loss (paper, eq. 6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


#: smallest image side a discriminator scale looks at
MIN_SIZE = 16


class PatchDiscriminator(nn.Module):
    """A PatchGAN: ``(B, 3, H, W)`` -> ``(B, 1, H', W')`` realness logits of overlapping patches."""

    def __init__(self, channels: int = 32, layers: int = 3):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(3, channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = channels
        for i in range(1, layers):
            c_next = min(channels * 2**i, 256)
            stride = 2 if i < layers - 1 else 1
            mods += [nn.Conv2d(c, c_next, 4, stride, 1), nn.GroupNorm(8, c_next), nn.LeakyReLU(0.2)]
            c = c_next
        mods.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MultiScaleDiscriminator(nn.Module):
    """``scales`` patch discriminators on the image at full, 1/2, 1/4 ... resolution."""

    def __init__(self, scales: int = 3, channels: int = 32):
        super().__init__()
        self.discs = nn.ModuleList(PatchDiscriminator(channels) for _ in range(scales))

    def forward(self, images: Tensor) -> list[Tensor]:
        """Images ``(B, H, W, 3)`` in [0, 1] -> one logit map per scale.

        Scales at which the image would be smaller than :data:`MIN_SIZE` pixels are skipped.
        """
        x = images.permute(0, 3, 1, 2) * 2 - 1
        out = []
        for i, d in enumerate(self.discs):
            if i > 0 and min(x.shape[-2:]) < MIN_SIZE:
                break
            out.append(d(x))
            x = F.avg_pool2d(x, 2)
        return out


def generator_loss(disc: MultiScaleDiscriminator, fake: Tensor) -> Tensor:
    """Hinge generator loss ``-mean D(fake)``, averaged over the scales."""
    logits = disc(fake)
    return sum(-lg.mean() for lg in logits) / len(logits)


def discriminator_loss(disc: MultiScaleDiscriminator, real: Tensor, fake: Tensor) -> Tensor:
    """Hinge discriminator loss ``relu(1 - D(real)) + relu(1 + D(fake))``, averaged over the scales."""
    lr, lf = disc(real), disc(fake.detach())
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(lr, lf)) / len(lr)


class AdversarialLoss(nn.Module):
    """Module form: holds the discriminators; ``forward(fake)`` is the generator loss."""

    def __init__(self, scales: int = 3, channels: int = 32):
        super().__init__()
        self.disc = MultiScaleDiscriminator(scales, channels)

    def forward(self, fake: Tensor) -> Tensor:
        return generator_loss(self.disc, fake)

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return discriminator_loss(self.disc, real, fake)
