"""The training objective (paper, eq. 8): named, weighted loss terms from renders and targets."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vasa3d.render.types import RenderOutput

from .config import TrainConfig
from .losses import l1_loss, position_loss, scale_loss, ssim_loss
from .losses.adversarial import AdversarialLoss
from .losses.cas import cas_loss
from .losses.perceptual import build_perceptual


@dataclass
class Renders:
    """What one training step rendered.

    Attributes:
        full: ``G''`` at the batch's cameras (``None`` for an avatar without VAS).
        base: ``G'`` at the batch's cameras (``None`` when base losses are off).
        side_full, side_base: ``G''`` and ``G'`` at the consistency views (or ``None``).
        sds_full, sds_base: ``G''`` and ``G'`` at a random view for the SDS loss (or ``None``).
        sds_t_max: the SDS timestep ceiling at this step.
        target: ``(B, H, W, 3)`` the frames composited over the step's background.
    """

    full: RenderOutput | None
    base: RenderOutput | None
    target: Tensor
    side_full: RenderOutput | None = None
    side_base: RenderOutput | None = None
    sds_full: RenderOutput | None = None
    sds_base: RenderOutput | None = None
    sds_t_max: float = 0.98


def reconstruction_loss(pred: Tensor, target: Tensor, lambda_ssim: float) -> Tensor:
    """The paper's eq. 5: ``lambda_ssim * (1 - SSIM) + (1 - lambda_ssim) * L1``."""
    return lambda_ssim * ssim_loss(pred, target) + (1 - lambda_ssim) * l1_loss(pred, target)


class Objective(nn.Module):
    """Builds the loss networks a :class:`TrainConfig` asks for and sums their terms.

    ``forward(renders, avatar, cas=False)`` returns a dict of already-weighted
    scalar terms (``recon``, ``recon_base``, ``perceptual``, ``adv``, ``consist``,
    ``cas``, ``position``, ``scale``...); the training loss is their sum.
    """

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.config = config
        needs_perceptual = (
            config.perceptual != "off" or config.consistency or config.cas_iterations > 0
        )
        kind = "auto" if config.perceptual == "off" else config.perceptual
        self.perceptual = build_perceptual(kind, config.vgg_weights, config.lpips_weights) if needs_perceptual else None
        self.adversarial = AdversarialLoss() if config.adversarial else None
        self.sds = None
        if config.sds_weights:
            from .losses.sds import SDSLoss, load_stable_diffusion

            device = torch.device("cuda" if torch.cuda.is_available() and config.device != "cpu" else "cpu")
            parts = load_stable_diffusion(config.sds_weights, config.sds_prompt, device)
            self.sds = SDSLoss(parts, config.sds_guidance, config.sds_grad_scale, config.sds_t_min,
                               config.sds_resolution, torch.Generator().manual_seed(config.seed + 17))

    def image_terms(self, pred: Tensor, target: Tensor, suffix: str) -> dict[str, Tensor]:
        c = self.config
        terms = {f"recon{suffix}": reconstruction_loss(pred, target, c.lambda_ssim)}
        if c.perceptual != "off" and self.perceptual is not None:
            terms[f"perceptual{suffix}"] = c.lambda_lpips * self.perceptual(pred, target).mean()
        if self.adversarial is not None:
            terms[f"adv{suffix}"] = c.lambda_adv * self.adversarial(pred)
        return terms

    def forward(self, renders: Renders, avatar, cas: bool = False) -> dict[str, Tensor]:
        c = self.config
        terms: dict[str, Tensor] = {}
        if renders.full is not None:
            terms.update(self.image_terms(renders.full.color, renders.target, ""))
        if renders.base is not None:
            terms.update(self.image_terms(renders.base.color, renders.target, "_base"))
        if renders.side_full is not None and renders.side_base is not None and self.perceptual is not None:
            terms["consist"] = c.lambda_consist * self.perceptual(
                renders.side_full.color, renders.side_base.color.detach()).mean()
        if self.sds is not None:
            sds = [self.sds(r.color, renders.sds_t_max) for r in (renders.sds_full, renders.sds_base) if r is not None]
            if sds:
                terms["sds"] = c.lambda_sds * sum(sds)
        if cas and self.perceptual is not None:
            main = renders.full if renders.full is not None else renders.base
            terms["cas"] = c.lambda_cas * cas_loss(self.perceptual, main.color, c.cas_sharpness)
        if c.lambda_position > 0:
            terms["position"] = c.lambda_position * position_loss(avatar.means, c.position_threshold)
        if c.lambda_scale > 0:
            terms["scale"] = c.lambda_scale * scale_loss(avatar.log_scales, c.scale_threshold)
        return terms

    def discriminator_loss(self, renders: Renders) -> Tensor | None:
        """The discriminators' hinge loss on this step's frames vs. renders (``None`` without them)."""
        if self.adversarial is None:
            return None
        fakes = [r.color for r in (renders.full, renders.base) if r is not None]
        return sum(self.adversarial.discriminator_loss(renders.target, f) for f in fakes) / len(fakes)
