"""The training loop: sample frames, render G' and G'', sum the objective, step Adam.

Everything that is not the loop lives elsewhere: the losses in
:mod:`.objective`, densification in :mod:`vasa3d.gaussians.densify`,
checkpoint files in :mod:`.checkpoint`, the progress bar in :mod:`.display`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import math
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor

from vasa3d.errors import VasaError
from vasa3d.gaussians import GaussianAvatar
from vasa3d.gaussians.densify import DensifyStrategy
from vasa3d.render import rasterize
from vasa3d.render.camera import Camera
from vasa3d.render.types import RenderOutput

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .display import training_bar
from .objective import Objective, Renders
from .regions import head_region
from .views import consistency_view, orbit_like, random_view

CHECKPOINT_NAME = "checkpoint.safetensors"
#: settings that may change between a run and its resumption (they do not change what is trained)
RESUMABLE_CHANGES = ("device", "backend", "checkpoint_every", "log_every", "preview_every", "fresh_workers")
GAUSSIAN_GROUPS = ("means", "log_scales", "quats", "opacity_logits", "sh")


def pick_device(name: str) -> torch.device:
    """``auto``: this rank's CUDA GPU when there is one (``LOCAL_RANK`` under torchrun), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise VasaError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def _world() -> tuple[int, int]:
    """``(rank, world size)``; joins the process group torchrun describes in the environment."""
    if dist.is_available() and not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Fits a :class:`GaussianAvatar` to a frame dataset.

    Args:
        avatar: the avatar to train (moved to the training device).
        dataset: a :class:`vasa3d.animate.FrameDataset` (or anything with ``len``,
            ``[i] -> FrameSample``, ``train_indices`` and ``test_indices``).
        config: :class:`TrainConfig`; the ``paper`` preset by default.
        log_dir: folder for checkpoints and TensorBoard logs; a checkpoint found
            there is resumed.  ``None``: no files.
        quiet: no progress bar.
        trained_on: facts about the run beyond the dataset and config (a portrait's hash, the preset),
            recorded in every checkpoint; a checkpoint is resumed only if these, the dataset's
            fingerprint and the settings that matter all match.
        fresh: a :class:`vasa3d.animate.fresh.FreshFrames` stream of training frames, needed when
            ``config.fresh_frames`` is on; step ``s`` then trains on its draws ``(s * world + rank) * B ...``, so a
            resumed run continues the same frames.  The dataset still gives the held-out frames.

    Under ``torch.distributed`` (torchrun) every rank trains on its own frames and
    gradients are averaged before each step; rank 0 writes files.

    Example:
        >>> avatar = Trainer(avatar, dataset, TrainConfig.preset("cpu-quick"), "runs/a").run()
    """

    def __init__(self, avatar: GaussianAvatar, dataset, config: TrainConfig | None = None,
                 log_dir: str | Path | None = None, quiet: bool = False, trained_on: dict | None = None,
                 fresh=None):
        self.config = config or TrainConfig()
        if self.config.fresh_frames and fresh is None:
            raise VasaError("fresh_frames is on but no animator stream was given (Trainer(fresh=FreshFrames(...))); "
                            "train on the dataset's frames with --no-fresh-frames")
        self.fresh = fresh if self.config.fresh_frames else None
        self._trained_on_extra = dict(trained_on or {})
        self.device = pick_device(self.config.device)
        self.rank, self.world = _world()
        self.dataset = dataset
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.quiet = quiet or self.rank != 0
        self.step = 0
        self.avatar = avatar.to(self.device)
        if len(dataset.train_indices) == 0:
            raise VasaError("the dataset has no training frames; build it with more frames")
        self._set_background_kind()
        with torch.random.fork_rng(devices=[]):  # discriminator weights follow the seed
            torch.manual_seed(self.config.seed)
            self.objective = Objective(self.config).to(self.device)
        self._cas_skipped = False
        if self.config.cas_iterations and not self.config.cas_with_standin and not self._has_lpips_vgg():
            self.config = dataclasses.replace(self.config, cas_iterations=0)
            self._cas_skipped = True
        self.sampler = torch.Generator().manual_seed(self.config.seed * 1000 + self.rank)
        self.view_rng = torch.Generator().manual_seed(self.config.seed * 1000 + 500 + self.rank)
        self.strategy = self._make_strategy()
        self.optimizer = self._make_optimizer()
        self.disc_optimizer = (
            torch.optim.Adam(self.objective.adversarial.parameters(), lr=self.config.lr_disc, betas=(0.5, 0.999))
            if self.objective.adversarial is not None else None
        )
        self._writer = None
        self._tensorboard_missing = False
        self._regions: dict[int, Tensor] = {}
        # head regions come from the avatar as it was given (not as training changes it), so a resumed
        # run sees exactly the targets of an uninterrupted one
        self._region_avatar = copy.deepcopy(self.avatar).eval() if self.config.region == "head" else None
        if self.fresh is not None:  # fresh frames come with their head region, made beside them by the workers
            self.fresh.set_region(self._fresh_region() if self._region_avatar is not None else None)
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ setup
    def _has_lpips_vgg(self) -> bool:
        from .losses.perceptual import LPIPS

        return isinstance(self.objective.perceptual, LPIPS)

    def _set_background_kind(self) -> None:
        colour = {"white": 1.0}.get(self.config.background, 0.0)
        self.avatar.background.fill_(colour)

    def _make_strategy(self) -> DensifyStrategy | None:
        c = self.config
        if not c.densify:
            return None
        reset = c.scaled(c.opacity_reset_interval) if c.opacity_reset_interval else 0
        return DensifyStrategy(start=c.scaled(c.densify_start), stop=c.scaled(c.densify_stop),
                               interval=c.scaled(c.densify_interval), grad_threshold=c.densify_grad_threshold,
                               prune_opacity=c.prune_opacity, max_gaussians=c.max_gaussians,
                               opacity_reset_interval=reset)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        c, a = self.config, self.avatar
        lrs = {"means": c.lr_means, "log_scales": c.lr_log_scales, "quats": c.lr_quats,
               "opacity_logits": c.lr_opacity, "sh": c.lr_sh}
        groups = [{"name": k, "params": [getattr(a, k)], "lr": lrs[k]} for k in GAUSSIAN_GROUPS]
        mlps = [p for m in (a.M_e, a.M_p, a.D_e, a.D_p) if m is not None for p in m.parameters()]
        if mlps:
            groups.append({"name": "mlp", "params": mlps, "lr": c.lr_mlp})
        groups.append({"name": "shape", "params": [a.shape], "lr": c.lr_shape})
        return torch.optim.Adam(groups, eps=1e-15, foreach=True)

    @property
    def total_iterations(self) -> int:
        return self.config.iterations + self.config.cas_iterations

    def _update_lr(self) -> None:
        c = self.config
        t = min(1.0, self.step / max(1, c.iterations))
        lr = math.exp((1 - t) * math.log(c.lr_means) + t * math.log(c.lr_means_final))
        for g in self.optimizer.param_groups:
            if g["name"] == "means":
                g["lr"] = lr

    # ------------------------------------------------------------------ one step
    def _background(self) -> Tensor:
        if self.config.background == "random":
            return torch.rand(1, generator=self.sampler).expand(3).to(self.device)
        return self.avatar.background.detach()

    def _batch(self):
        B = self.config.batch_size
        if self.fresh is not None:  # draws are numbered by step, so a resumed run goes on with the same frames
            samples = self.fresh.take((self.step * self.world + self.rank) * B, B)
            frames = [None] * B
        else:
            idx = self.dataset.train_indices
            picks = torch.randint(len(idx), (B,), generator=self.sampler)
            frames = [int(idx[int(i)]) for i in picks]
            samples = [self.dataset[i] for i in frames]
        dev = self.device
        return (
            torch.stack([s.image for s in samples]).to(dev),
            torch.stack([self._mask(i, s) for i, s in zip(frames, samples)]).to(dev),
            torch.stack([torch.as_tensor(s.z_dyn) for s in samples]).float().to(dev),
            torch.stack([torch.as_tensor(s.z_pose) for s in samples]).float().to(dev),
            [s.camera for s in samples],
        )

    def _mask(self, index: int | None, sample) -> Tensor:
        """The frame's foreground ``(H, W, 1)`` within the configured region (cached per dataset frame; a fresh
        frame, ``index`` None, is seen once)."""
        if self.config.region == "frame":
            return sample.mask
        if getattr(sample, "region", None) is not None:  # a fresh frame's, made beside it
            return sample.mask * _region_weights(sample.region).float() / 255
        region = self._regions.get(index) if index is not None else None
        if region is None:
            region = _region_weights(head_region(self._region_avatar, torch.as_tensor(sample.z_dyn).float(),
                                                 torch.as_tensor(sample.z_pose).float(), sample.camera,
                                                 self.config.head_margin))
            if index is not None:
                self._regions[index] = region
        return sample.mask * region.float() / 255

    def _fresh_region(self):
        """``region(z_dyn, z_pose, camera)``, the head region on a CPU copy of the avatar as given (for workers)."""
        import functools

        avatar = copy.deepcopy(self._region_avatar).to("cpu")
        return functools.partial(head_region, avatar, margin=self.config.head_margin)

    def _render(self, gaussians, cameras: list[Camera], background: Tensor) -> RenderOutput:
        outs = [rasterize(g, cam.to(self.device), cam.width, cam.height, background=background,
                          backend=self.config.backend) for g, cam in zip(gaussians, cameras)]
        return RenderOutput(*(torch.cat(t) for t in zip(*((o.color, o.alpha, o.depth) for o in outs))))

    def train_step(self) -> dict[str, float]:
        """One iteration; returns the loss terms as floats."""
        c = self.config
        cas = self.step >= c.iterations
        images, masks, z_dyn, z_pose, cameras = self._batch()
        bg = self._background()
        target = images * masks + bg * (1 - masks)
        base, full = self.avatar.deform(z_dyn, z_pose, vas=True, base=c.base_losses or c.consistency or bool(c.sds_weights))
        main = full if full is not None else base
        renders = Renders(full=self._render(main, cameras, bg), base=None, target=target)
        if full is not None and c.base_losses:
            renders.base = self._render(base, cameras, bg)
        if full is not None and c.consistency:
            centre = main[0].means.detach().mean(0)
            side = consistency_view(cameras[0], centre.cpu(), self.view_rng,
                                    (c.consist_azimuth_min, c.consist_azimuth_max), c.consist_elevation)
            renders.side_full = self._render(full[:1], [side], bg)
            renders.side_base = self._render(base[:1], [side], bg)
        if self.objective.sds is not None and self.step % c.sds_every == 0:
            centre = main[0].means.detach().mean(0).cpu()
            view = random_view(cameras[0], centre, self.view_rng)
            renders.sds_full = self._render(main[:1], [view], bg)
            if full is not None and base is not None:
                renders.sds_base = self._render(base[:1], [view], bg)
            decays = self.step // c.scaled(c.sds_t_decay_every)
            renders.sds_t_max = max(c.sds_t_min + 1e-3, c.sds_t_max * c.sds_t_decay**decays)
        if self.strategy is not None:
            self.strategy.pre_backward(main)
        terms = self.objective(renders, self.avatar, cas=cas)
        loss = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._all_reduce_gradients(self.optimizer)
        self._update_lr()
        self.optimizer.step()
        if self.disc_optimizer is not None:
            d_loss = self.objective.discriminator_loss(renders)
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self._all_reduce_gradients(self.disc_optimizer)
            self.disc_optimizer.step()
            terms["disc"] = d_loss
        if self.strategy is not None and not cas:
            counts = self.strategy.post_backward(self.step, self.avatar, self.optimizer, main, cameras,
                                                 reduce=self._reduce if self.world > 1 else None)
            if any(counts.values()):
                self._log_scalars({f"densify/{k}": float(v) for k, v in counts.items()})
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["loss"] = float(loss.detach())
        return out

    # ------------------------------------------------------------------ distributed
    def _reduce(self, t: Tensor) -> Tensor:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def _all_reduce_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        if self.world == 1:
            return
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad /= self.world

    # ------------------------------------------------------------------ the run
    def run(self) -> GaussianAvatar:
        """Train to ``iterations + cas_iterations`` (resuming from ``log_dir``'s checkpoint); returns the avatar."""
        c = self.config
        ckpt = self.checkpoint_path
        if ckpt is not None and ckpt.exists():
            self.load(ckpt)
        if not c.sds_weights and not self.quiet:
            print("note: SDS loss off (no Stable Diffusion 2.1 weights given; pass --sds-weights DIR to use it)")
        if self._cas_skipped and not self.quiet:
            print("note: CAS fine-tune off (it needs LPIPS-VGG: pass --vgg-weights; with the EfficientNet stand-in "
                  "it diverges, see docs/training.md; --cas-with-standin forces it)")
        desc = "training avatar"
        # the stream's exit ends its workers when the run ends, however it ends
        with training_bar(desc, self.total_iterations, self.step, self.quiet) as bar, \
                (self.fresh if self.fresh is not None else contextlib.nullcontext()):
            while self.step < self.total_iterations:
                terms = self.train_step()
                self.step += 1
                if c.log_every and self.step % c.log_every == 0:
                    self.history.append({"step": self.step, **terms})
                    self._log_scalars({f"loss/{k}": v for k, v in terms.items()})
                if c.preview_every and self.step % c.preview_every == 0:
                    self._log_previews()
                if ckpt is not None and c.checkpoint_every and self.step % c.checkpoint_every == 0:
                    self.save(ckpt)
                bar.update(advance=1, loss=terms["loss"], n=self.avatar.n_gaussians, preview=self._preview_front)
        if ckpt is not None:
            self.save(ckpt)
        if self._writer is not None:
            self._writer.close()
        self.avatar.eval()
        return self.avatar

    @property
    def checkpoint_path(self) -> Path | None:
        return self.log_dir / CHECKPOINT_NAME if self.log_dir is not None else None

    # ------------------------------------------------------------------ logging
    def _tb(self):
        if self._writer is None and self.log_dir is not None and self.rank == 0 and not self._tensorboard_missing:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an extra: train without event files, say so once
                self._tensorboard_missing = True
                logging.getLogger("vasa3d").info(
                    "no TensorBoard logs: pip install 'vasa3d[tensorboard]' (tensorboard==2.20.0) to get them")
                return None
            self._writer = SummaryWriter(str(self.log_dir / "tensorboard"))
        return self._writer

    def _log_scalars(self, values: dict[str, float]) -> None:
        w = self._tb()
        if w is not None:
            for k, v in values.items():
                w.add_scalar(k, v, self.step)

    def preview_images(self) -> dict[str, Tensor]:
        """Front and 45-degree side renders ``(H, W, 3)`` of G' and G'' at the first test frame's latent."""
        idx = self.dataset.test_indices if len(self.dataset.test_indices) else self.dataset.train_indices
        s = self.dataset[int(idx[0])]
        z_dyn = torch.as_tensor(s.z_dyn).float()[None].to(self.device)
        z_pose = torch.as_tensor(s.z_pose).float()[None].to(self.device)
        out = {}
        with torch.no_grad():
            base, full = self.avatar.deform(z_dyn, z_pose, vas=True, base=True)
            centre = base[0].means.mean(0).cpu()
            views = {"front": s.camera, "side": orbit_like(s.camera, centre, 45.0, 0.0)}
            for gname, gs in (("G_base", base), ("G_full", full)):
                if gs is None:
                    continue
                for vname, cam in views.items():
                    r = self._render(gs, [cam], self.avatar.background.detach())
                    out[f"{gname}/{vname}"] = r.color[0].clamp(0, 1).cpu()
        return out

    def _preview_front(self) -> Tensor:
        """The avatar so far from the front, ``(H, W, 3)`` in [0, 1] (for progress observers)."""
        images = self.preview_images()
        return images.get("G_full/front", images.get("G_base/front"))

    def _log_previews(self) -> None:
        w = self._tb()
        if w is None:
            return
        for k, img in self.preview_images().items():
            w.add_image(f"preview/{k}", img, self.step, dataformats="HWC")

    # ------------------------------------------------------------------ checkpoints
    def state_tensors(self) -> tuple[dict, dict[str, Tensor]]:
        """Everything needed to continue: ``(meta, tensors)``."""
        avatar_config, avatar_tensors = self.avatar.export()
        tensors = {f"avatar/{k}": v for k, v in avatar_tensors.items()}
        tensors.update(_optimizer_tensors("optim", self.optimizer))
        if self.disc_optimizer is not None:
            tensors.update({f"disc/{k}": v for k, v in self.objective.adversarial.state_dict().items()})
            tensors.update(_optimizer_tensors("dopt", self.disc_optimizer))
        tensors["rng/sampler"] = self.sampler.get_state()
        tensors["rng/views"] = self.view_rng.get_state()
        tensors["rng/torch"] = torch.get_rng_state()
        meta = {"step": self.step, "avatar": avatar_config, "config": dataclasses.asdict(self.config),
                "world": self.world, "trained_on": self.trained_on()}
        return meta, tensors

    def trained_on(self) -> dict:
        """What this run trains on: the dataset's fingerprint and size, the settings that matter, the caller's facts."""
        manifest = getattr(self.dataset, "manifest", None) or {}
        settings = {k: v for k, v in dataclasses.asdict(self.config).items() if k not in RESUMABLE_CHANGES}
        record = {"dataset": manifest.get("plan"), "frames": len(self.dataset), "settings": settings,
                  **self._trained_on_extra}
        if self.fresh is not None:  # the animator, camera and motion of the stream
            record["fresh"] = self.fresh.fingerprint()
        return json.loads(json.dumps(record, default=str))  # as a checkpoint stores it (tuples become lists)

    def _check_resumable(self, meta: dict, path: Path) -> None:
        """Refuse a checkpoint made from another dataset, portrait or settings, naming the folder to delete."""
        old = meta.get("trained_on")
        new = self.trained_on()
        folder = path.parent
        if not isinstance(old, dict):
            raise CheckpointError(f"{path} does not record what it was trained on (an older vasa3d wrote it); "
                                  f"delete {folder} to start over")
        diffs = []
        for key in sorted(set(old) | set(new)):
            if key == "settings":
                a, b = old.get(key) or {}, new[key]
                diffs += [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            elif old.get(key) != new.get(key):
                diffs.append(key if key in ("dataset", "portrait", "init", "fresh") else f"{key} {old.get(key)!r} -> {new.get(key)!r}")
        if diffs:
            shown = ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "")
            raise CheckpointError(f"the checkpoint in {folder} was trained on something else (changed: {shown}); "
                                  f"delete {folder} to start over, or rerun with the settings it was made with")

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (rank 0 only)."""
        if self.rank != 0:
            return
        meta, tensors = self.state_tensors()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, tensors, meta)

    def load(self, path: str | Path) -> None:
        """Continue from a checkpoint written by :meth:`save` (raises :class:`CheckpointError` if it is broken)."""
        meta, tensors = load_checkpoint(path)
        self._check_resumable(meta, Path(path))
        try:
            avatar_tensors = {k[len("avatar/"):]: v for k, v in tensors.items() if k.startswith("avatar/")}
            avatar = GaussianAvatar.from_export(meta["avatar"], avatar_tensors, head=self.avatar.head).to(self.device)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {path} does not match this avatar ({exc}); delete it to start over") from None
        self.avatar = avatar
        self.optimizer = self._make_optimizer()
        _load_optimizer_tensors("optim", self.optimizer, tensors, self.device)
        if self.disc_optimizer is not None:
            disc = {k[len("disc/"):]: v for k, v in tensors.items() if k.startswith("disc/")}
            if disc:
                self.objective.adversarial.load_state_dict(disc)
                _load_optimizer_tensors("dopt", self.disc_optimizer, tensors, self.device)
        self.sampler.set_state(tensors["rng/sampler"])
        self.view_rng.set_state(tensors["rng/views"])
        torch.set_rng_state(tensors["rng/torch"])
        self.step = int(meta["step"])
        self.strategy = self._make_strategy()
        self._update_lr()


def _region_weights(region: Tensor) -> Tensor:
    """What :func:`head_region` gives (weights in [0, 1]: it fades down the neck) in 1/255 steps, as uint8: a
    cached region costs what a 0/1 mask did (one place for dataset and fresh frames)."""
    return (region.clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    out = {}
    for gi, group in enumerate(optimizer.param_groups):
        name = group.get("name", str(gi))
        for pi, p in enumerate(group["params"]):
            for key, value in optimizer.state.get(p, {}).items():
                out[f"{prefix}/{name}/{pi}/{key}"] = torch.as_tensor(value).detach().cpu()
    return out


def _load_optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor],
                            device: torch.device) -> None:
    for gi, group in enumerate(optimizer.param_groups):
        name = group.get("name", str(gi))
        for pi, p in enumerate(group["params"]):
            head = f"{prefix}/{name}/{pi}/"
            state = {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}
            if state:
                optimizer.state[p] = {k: (v if k == "step" else v.to(device)) for k, v in state.items()}
