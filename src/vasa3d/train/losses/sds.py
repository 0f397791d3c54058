"""Score distillation sampling with Stable Diffusion 2.1 (paper, SDS loss), when the user has the weights.

Stable Diffusion is not redistributable here and ``diffusers`` is not a
dependency: :func:`load_stable_diffusion` reads a local diffusers-layout
folder (``unet/``, ``vae/``, ``text_encoder/``, ``tokenizer/``,
``scheduler/``) with ``local_files_only`` and never downloads.
:class:`SDSLoss` only needs objects with the diffusers call interface, so
its maths is tested with small stand-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vasa3d.errors import MissingAssetError


@dataclass
class DiffusionParts:
    """What SDS needs from a latent diffusion model.

    Attributes:
        unet: ``unet(latents (B,4,h,w), t (B,), encoder_hidden_states=(B,L,D)).sample``.
        vae: ``vae.encode(images in [-1, 1] (B,3,H,W)).latent_dist.sample()``; ``vae.config.scaling_factor``.
        alphas_cumprod: ``(T,)`` the noise schedule's cumulative alphas.
        prediction_type: ``"epsilon"`` or ``"v_prediction"`` (SD 2.1-768 predicts v).
        cond, uncond: ``(1, L, D)`` text embeddings of the prompt and of the empty prompt.
    """

    unet: nn.Module
    vae: nn.Module
    alphas_cumprod: Tensor
    prediction_type: str
    cond: Tensor
    uncond: Tensor


def load_stable_diffusion(folder: str, prompt: str, device: torch.device) -> DiffusionParts:
    """The parts of a diffusers-layout Stable Diffusion folder (no network access)."""
    root = Path(folder)
    if not root.is_dir():
        raise MissingAssetError(f"Stable Diffusion folder not found: {root}; give the folder of a "
                                "diffusers-format stable-diffusion-2-1 download (see docs/training.md)")
    try:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer
    except ImportError:
        raise MissingAssetError("the SDS loss needs diffusers and transformers: pip install diffusers transformers") from None
    for sub in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        if not (root / sub).is_dir():
            raise MissingAssetError(f"{root} lacks {sub}/; give a diffusers-format Stable Diffusion 2.1 folder")
    kw = {"local_files_only": True}
    unet = UNet2DConditionModel.from_pretrained(root, subfolder="unet", **kw).to(device).eval()
    vae = AutoencoderKL.from_pretrained(root, subfolder="vae", **kw).to(device).eval()
    text = CLIPTextModel.from_pretrained(root, subfolder="text_encoder", **kw).to(device).eval()
    tok = CLIPTokenizer.from_pretrained(root, subfolder="tokenizer", **kw)
    sched = DDPMScheduler.from_pretrained(root, subfolder="scheduler", **kw)
    with torch.no_grad():
        ids = tok([prompt, ""], padding="max_length", max_length=tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids.to(device)
        emb = text(ids)[0]
    for m in (unet, vae):
        for p in m.parameters():
            p.requires_grad_(False)
    return DiffusionParts(unet, vae, sched.alphas_cumprod.to(device), sched.config.prediction_type, emb[:1], emb[1:])


class SDSLoss(nn.Module):
    """``forward(images (B,H,W,3) in [0,1], t_max) -> scalar`` whose gradient is the SDS gradient.

    Args:
        parts: the diffusion model (:func:`load_stable_diffusion`).
        guidance: classifier-free guidance scale (paper: 10).
        grad_scale: multiplies the score residual (paper: 0.001).
        t_min: smallest normalised timestep (paper: 0.02).
        resolution: images are resized to this before encoding (SD 2.1: 512 or 768).
        generator: random source of timesteps and noise.
    """

    def __init__(self, parts: DiffusionParts, guidance: float = 10.0, grad_scale: float = 0.001,
                 t_min: float = 0.02, resolution: int = 512, generator: torch.Generator | None = None):
        super().__init__()
        self.parts = parts
        self.guidance, self.grad_scale, self.t_min, self.resolution = guidance, grad_scale, t_min, resolution
        self.generator = generator or torch.Generator().manual_seed(0)

    def forward(self, images: Tensor, t_max: float = 0.98) -> Tensor:
        p = self.parts
        x = images.permute(0, 3, 1, 2) * 2 - 1
        x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        scale = getattr(getattr(p.vae, "config", None), "scaling_factor", 0.18215)
        latents = p.vae.encode(x).latent_dist.sample() * scale
        b, n_t = latents.shape[0], len(p.alphas_cumprod)
        lo, hi = int(self.t_min * n_t), max(int(self.t_min * n_t) + 1, int(t_max * n_t))
        t = torch.randint(lo, hi, (b,), generator=self.generator).to(latents.device)
        noise = torch.randn(latents.shape, generator=self.generator).to(latents)
        a = p.alphas_cumprod[t].reshape(b, 1, 1, 1).to(latents)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        with torch.no_grad():
            out = p.unet(torch.cat([noisy, noisy]), torch.cat([t, t]),
                         encoder_hidden_states=torch.cat([p.uncond.expand(b, -1, -1), p.cond.expand(b, -1, -1)])).sample
            if p.prediction_type == "v_prediction":  # v = sqrt(a) eps - sqrt(1-a) x0  ->  eps
                both = torch.cat([noisy, noisy])
                aa = torch.cat([a, a])
                out = aa.sqrt() * out + (1 - aa).sqrt() * both
            eps_u, eps_c = out.chunk(2)
            eps = eps_u + self.guidance * (eps_c - eps_u)
            grad = torch.nan_to_num(self.grad_scale * (1 - a) * (eps - noise))
        # d/d(latents) of 0.5 ||latents - (latents - grad)||^2 is exactly grad
        return 0.5 * ((latents - (latents - grad).detach()) ** 2).sum() / b
