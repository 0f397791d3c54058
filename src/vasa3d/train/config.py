"""Training settings, with the paper's values (appendix A) as defaults, and named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

PresetName = Literal["demo", "cpu-quick", "gpu", "paper"]
PRESETS: tuple[str, ...] = ("demo", "cpu-quick", "gpu", "paper")

#: the paper's run length; densification and SDS schedules are given for it and scaled to shorter runs
PAPER_ITERATIONS = 200_000


@dataclass
class TrainConfig:
    """How an avatar is trained.  Field names are also the ``vasa3d train`` flags."""

    # ---------------------------------------------------------------- run
    iterations: int = PAPER_ITERATIONS
    """Main-phase iterations (paper: 200K)."""
    batch_size: int = 4
    """Frames per iteration (paper: 4)."""
    resolution: int = 512
    """Training image size in pixels (square; the dataset is made at this size)."""
    dataset_frames: int = 6000
    """Synthetic frames to make for training when the pipeline builds the dataset."""
    seed: int = 0
    backend: str = "auto"
    """Rasterizer backend: auto, cpu, torch or gsplat."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    region: Literal["head", "frame"] = "head"
    """What the avatar must reproduce: head (the frame's foreground within the posed head mesh grown by
    head_margin; shoulders count as background) or frame (the whole foreground mask)."""
    head_margin: float = 0.08
    """Growth of the head region beyond the mesh silhouette, as a fraction of the image width (hair)."""
    background: Literal["black", "white", "random"] = "black"
    """Colour behind the head in the training targets (random: a new grey each step, for clean alpha)."""
    fresh_frames: bool = True
    """Draw every training frame new from the portrait animator as training goes (an endless stream, the paper's
    hours of generated video) instead of from the dataset's training split; the dataset's held-out frames stay the
    test set. Needs the dataset's animator: a dataset imported from frames or a video trains on its own frames."""
    fresh_workers: int = -1
    """Processes rendering fresh frames ahead of training (-1: one per CPU core but one; 0: none, the training
    process renders each frame when it needs it). See docs/training.md for sizing."""

    # ---------------------------------------------------------------- learning rates (Adam)
    lr_means: float = 5e-3
    """Local Gaussian positions, in triangle sizes (decays exponentially to lr_means_final)."""
    lr_means_final: float = 5e-5
    lr_log_scales: float = 1.7e-2
    lr_quats: float = 1e-3
    lr_opacity: float = 5e-2
    lr_sh: float = 2.5e-3
    lr_mlp: float = 1e-4
    """M^e, M^p, D^e, D^p."""
    lr_shape: float = 1e-4
    """Head identity coefficients, optimised jointly with the rest."""

    # ---------------------------------------------------------------- losses (appendix A)
    lambda_ssim: float = 0.1
    """L_recon = lambda_ssim * (1 - SSIM) + (1 - lambda_ssim) * L1."""
    perceptual: Literal["auto", "efficientnet", "lpips-vgg", "off"] = "auto"
    """Perceptual loss: LPIPS-VGG when vgg_weights is given (auto), else EfficientNet-Lite0 features."""
    vgg_weights: str = ""
    """Path to VGG16 ImageNet weights (torchvision layout, .pth or .safetensors) for LPIPS."""
    lpips_weights: str = ""
    """Optional path to LPIPS linear-layer weights (lin0..lin4); without it the layers are averaged."""
    lambda_lpips: float = 1.0
    adversarial: bool = True
    """Three multi-scale patch discriminators with a hinge adversarial loss."""
    lambda_adv: float = 0.001
    lr_disc: float = 2e-4
    sds_weights: str = ""
    """Folder with Stable Diffusion 2.1 weights (diffusers layout); empty: no SDS loss."""
    lambda_sds: float = 1.0
    sds_every: int = 10
    sds_guidance: float = 10.0
    sds_grad_scale: float = 0.001
    sds_t_min: float = 0.02
    sds_t_max: float = 0.98
    sds_t_decay: float = 0.98
    """t_max is multiplied by this every sds_t_decay_every (paper) iterations, scaled to the run."""
    sds_t_decay_every: int = 2000
    sds_prompt: str = "human portrait, realistic photography, by DSLR camera"
    sds_resolution: int = 512
    consistency: bool = True
    """Render-consistency loss LPIPS(I(G''), stopgrad(I(G'))) at a new side view."""
    lambda_consist: float = 0.01
    consist_azimuth_min: float = 35.0
    consist_azimuth_max: float = 55.0
    consist_elevation: float = 15.0
    base_losses: bool = True
    """Apply the image losses to G' (base deformation) as well as G'' (paper)."""
    cas_iterations: int = 20_000
    """CAS sharpening fine-tune iterations after the main run (paper: 20K; 0: off)."""
    lambda_cas: float = 10.0
    cas_with_standin: bool = False
    """Run the CAS fine-tune with the EfficientNet-Lite0 stand-in too.  Off: CAS runs only with LPIPS-VGG
    (vgg_weights), because with the stand-in at lambda_cas 10 it diverged in our runs (docs/training.md)."""
    cas_sharpness: float = 0.5
    lambda_position: float = 1e-2
    """GaussianAvatars' position regulariser (local offset beyond position_threshold)."""
    position_threshold: float = 1.0
    lambda_scale: float = 1.0
    """GaussianAvatars' scale regulariser (local scale beyond scale_threshold)."""
    scale_threshold: float = 0.6

    # ---------------------------------------------------------------- densification (appendix A)
    densify: bool = True
    densify_start: int = 10_000
    """Paper iterations; all densify_* steps are scaled by iterations / 200K."""
    densify_interval: int = 2_000
    densify_stop: int = 100_000
    max_gaussians: int = 200_000
    densify_grad_threshold: float = 2e-4
    """Mean screen-space positional gradient (NDC units) above which a Gaussian is cloned or split; each
    view's gradient counts as if it were the only view of its step, so this holds at any batch size."""
    prune_opacity: float = 0.005
    opacity_reset_interval: int = 60_000
    """Paper iterations between opacity resets (every opacity lowered to 0.01) while densifying; 0: none.
    The paper gives no value; this is GaussianAvatars' (60K with the same 10K/2K densification), which like
    3DGS's 3000 (with densification every 100) is 30 densification intervals."""

    # ---------------------------------------------------------------- bookkeeping
    checkpoint_every: int = 5_000
    """Iterations between atomic checkpoints (0: only at the end)."""
    log_every: int = 100
    """Iterations between TensorBoard scalars."""
    preview_every: int = 2_000
    """Iterations between TensorBoard preview images of G' and G'' (front and side)."""

    # ------------------------------------------------------------------ presets
    @classmethod
    def preset(cls, name: str) -> "TrainConfig":
        """A named whole config: ``demo``, ``cpu-quick``, ``gpu`` or ``paper``."""
        if name not in PRESETS:
            from vasa3d.errors import InputError

            raise InputError(f"unknown training preset {name!r}; use one of {', '.join(PRESETS)}")
        paper = cls()
        if name == "paper":
            return paper
        if name == "gpu":
            return dataclasses.replace(
                paper, iterations=15_000, batch_size=2, resolution=512, dataset_frames=3000, cas_iterations=1500,
                checkpoint_every=2_500, log_every=50, preview_every=1_000, max_gaussians=120_000,
            )
        if name == "cpu-quick":
            return dataclasses.replace(
                paper, iterations=3300, batch_size=1, resolution=256, dataset_frames=4000, cas_iterations=0,
                fresh_frames=False,
                perceptual="off", adversarial=False, consistency=False, densify=False, base_losses=False,
                checkpoint_every=500, log_every=25, preview_every=500, lr_mlp=5e-4,
            )
        # demo: the smallest run that still looks like the person (make demo's budget)
        return dataclasses.replace(
            paper, iterations=1200, batch_size=1, resolution=160, dataset_frames=200, cas_iterations=0,
            fresh_frames=False,
            perceptual="off", adversarial=False, consistency=False, densify=False, base_losses=False,
            checkpoint_every=0, log_every=25, preview_every=0, lr_mlp=5e-4,
        )

    def check_plugins(self) -> list[str]:
        """Check the plug-in weights paths before any long work; returns notes on those this config won't use.

        Raises:
            MissingAssetError: a path given does not exist or is not of the expected kind (one line).
            InputError: lpips_weights without vgg_weights.
        """
        from pathlib import Path

        from vasa3d.errors import InputError, MissingAssetError

        for flag, path in (("--vgg-weights", self.vgg_weights), ("--lpips-weights", self.lpips_weights)):
            if path and not Path(path).is_file():
                raise MissingAssetError(f"{flag}: no file {path}; give the weights file you downloaded")
        if self.lpips_weights and not self.vgg_weights:
            raise InputError("--lpips-weights are LPIPS's layers on top of VGG16: give --vgg-weights too")
        if self.sds_weights:
            root = Path(self.sds_weights)
            missing = [sub for sub in ("unet", "vae", "text_encoder", "tokenizer", "scheduler") if not (root / sub).is_dir()]
            if not root.is_dir() or missing:
                raise MissingAssetError(f"--sds-weights: {root} is not a diffusers-format Stable Diffusion 2.1 folder "
                                        f"(lacks {', '.join(missing) if root.is_dir() else 'the folder itself'})")
        notes = []
        uses_perceptual = self.perceptual != "off" or self.consistency or self.cas_iterations > 0
        if self.vgg_weights and (not uses_perceptual or self.perceptual == "efficientnet"):
            notes.append("this config trains without LPIPS (perceptual loss off or efficientnet); "
                         "--vgg-weights is not used")
        return notes

    def scaled(self, paper_iteration: int) -> int:
        """A step of the paper's 200K schedule mapped onto this run's length (at least 1)."""
        return max(1, round(paper_iteration * self.iterations / PAPER_ITERATIONS))
