"""Adaptive density control for bound Gaussians, as a strategy object with training hooks.

3DGS clones small and splits large Gaussians whose screen-space positional
gradient is high, and prunes transparent ones.  Here every operation works
on the local (per-triangle) parameters, and a child keeps its parent's
triangle, as in GaussianAvatars.  The trainer calls
:meth:`DensifyStrategy.pre_backward` with the step's world-space Gaussians
and cameras, and :meth:`DensifyStrategy.post_backward` after the backward
pass; the strategy edits the avatar and the optimizer state in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vasa3d.render.camera import Camera
from vasa3d.render.types import Gaussians

from .rotation import quat_to_matrix


@dataclass
class DensifyStrategy:
    """Clone / split / prune on a schedule given in iterations of this run.

    Attributes:
        start, stop, interval: densify at steps ``start, start + interval, ... < stop``.
        grad_threshold: mean screen-space gradient (NDC units) that marks a Gaussian for growth.
        clone_scale: Gaussians whose largest local scale is below this (triangle sizes) are cloned, larger ones split.
        prune_opacity: Gaussians less opaque than this are removed.
        max_gaussians: no growth beyond this count.
        opacity_reset_interval: every this many steps while densifying (``0 < step < stop``), every
            opacity is lowered to at most ``reset_opacity`` and its Adam moments are cleared, as in 3DGS
            and GaussianAvatars: Gaussians that the images do not need stay transparent and are pruned.
            0: never.
        reset_opacity: the opacity ceiling of a reset (3DGS: 0.01).
    """

    start: int
    stop: int
    interval: int
    grad_threshold: float = 2e-4
    clone_scale: float = 0.5
    prune_opacity: float = 0.005
    max_gaussians: int = 200_000
    opacity_reset_interval: int = 0
    reset_opacity: float = 0.01

    def __post_init__(self) -> None:
        self.grad_sum: Tensor | None = None
        self.count: Tensor | None = None

    # ------------------------------------------------------------------ hooks
    def pre_backward(self, gaussians: list[Gaussians]) -> None:
        """Keep the gradient of each rendered set's world means (call before ``backward``)."""
        for g in gaussians:
            if g.means.requires_grad:
                g.means.retain_grad()

    def post_backward(self, step: int, avatar, optimizer, gaussians: list[Gaussians], cameras: list[Camera],
                      reduce=None) -> dict[str, int]:
        """Accumulate gradient statistics and, on schedule, densify and prune.

        The loss is taken to be the mean over the ``len(gaussians)`` views rendered this step (as the
        trainer's image losses are), so each view's gradient is scaled back up by that number: a view
        counts as in 3DGS, where every step renders one view, and the threshold means the same at any
        batch size.

        Args:
            step: the iteration just computed (0-based).
            avatar: the :class:`~vasa3d.gaussians.GaussianAvatar` being trained.
            optimizer: its Adam optimizer (param groups named after the tensors).
            gaussians, cameras: what was rendered this step (same order), the views the loss averages.
            reduce: optional function that sums a tensor over distributed ranks.

        Returns:
            counts of ``cloned``, ``split`` and ``pruned`` Gaussians, and ``reset`` (1 when the
            opacities were reset this step); zeros off schedule.
        """
        n = avatar.n_gaussians
        if self.grad_sum is None or len(self.grad_sum) != n:
            self.grad_sum = torch.zeros(n, device=avatar.means.device)
            self.count = torch.zeros(n, device=avatar.means.device)
        result = {"cloned": 0, "split": 0, "pruned": 0, "reset": 0}
        if step >= self.stop:
            return result
        views = len(gaussians)
        for g, cam in zip(gaussians, cameras):
            if g.means.grad is None:
                continue
            cam = cam.to(g.means.device)
            R = cam.world_to_cam[:3, :3]
            gc = g.means.grad @ R.T
            depth = cam.world_to_camera(g.means.detach())[:, 2].clamp_min(1e-3)
            f = cam.K.reshape(3, 3)[0, 0]
            grad_ndc = gc[:, :2].norm(dim=-1) * depth / f * (0.5 * cam.width) * views
            self.grad_sum += grad_ndc
            self.count += (grad_ndc > 0).float()
        if step >= self.start and (step - self.start) % self.interval == 0:
            grad_sum, count = self.grad_sum, self.count
            if reduce is not None:
                grad_sum, count = reduce(grad_sum.clone()), reduce(count.clone())
            result.update(self.densify_and_prune(avatar, optimizer, grad_sum / count.clamp_min(1), step))
            self.grad_sum = None
        if self.opacity_reset_interval > 0 and step > 0 and step % self.opacity_reset_interval == 0:
            self.reset_opacities(avatar, optimizer)
            result["reset"] = 1
        return result

    def reset_opacities(self, avatar, optimizer) -> None:
        """Lower every opacity to at most ``reset_opacity`` and clear its Adam moments."""
        with torch.no_grad():
            ceiling = torch.logit(torch.tensor(self.reset_opacity)).to(avatar.opacity_logits)
            avatar.opacity_logits.clamp_(max=float(ceiling))
        state = optimizer.state.get(avatar.opacity_logits, {})
        for value in state.values():
            if torch.is_tensor(value) and value.shape == avatar.opacity_logits.shape:
                value.zero_()

    # ------------------------------------------------------------------ operations
    def densify_and_prune(self, avatar, optimizer, mean_grad: Tensor, step: int) -> dict[str, int]:
        """Clone, split and prune once; returns the counts."""
        with torch.no_grad():
            n = avatar.n_gaussians
            grow = mean_grad >= self.grad_threshold
            room = max(0, self.max_gaussians - n)
            if int(grow.sum()) > room:  # keep the strongest gradients within the cap
                keep = torch.topk(mean_grad, room).indices if room > 0 else torch.zeros(0, dtype=torch.long)
                grow = torch.zeros_like(grow)
                grow[keep] = True
            big = torch.exp(avatar.log_scales).max(dim=-1).values > self.clone_scale
            clone_idx = torch.nonzero(grow & ~big).flatten()
            split_idx = torch.nonzero(grow & big).flatten()
            gen = torch.Generator(device="cpu").manual_seed(1_000_003 + step)

            t = {k: v.detach() for k, v in avatar.gaussian_tensors().items()}
            # split: two children sampled from the parent's local Gaussian, each 1/1.6 the size
            s = torch.exp(t["log_scales"][split_idx])
            R = quat_to_matrix(t["quats"][split_idx])
            offsets = []
            for _ in range(2):
                eps = torch.randn(len(split_idx), 3, generator=gen).to(s)
                offsets.append((R @ (eps * s)[:, :, None])[:, :, 0])
            children = {
                "means": torch.cat([t["means"][split_idx] + o for o in offsets]),
                "quats": t["quats"][split_idx].repeat(2, 1),
                "log_scales": (t["log_scales"][split_idx] - torch.log(torch.tensor(1.6))).repeat(2, 1),
                "opacity_logits": t["opacity_logits"][split_idx].repeat(2),
                "sh": t["sh"][split_idx].repeat(2, 1, 1),
            }
            keep = torch.ones(n, dtype=torch.bool, device=mean_grad.device)
            keep[split_idx] = False
            keep &= torch.sigmoid(t["opacity_logits"]) >= self.prune_opacity
            pruned = int(n - keep.sum()) - len(split_idx)
            keep_idx = torch.nonzero(keep).flatten()
            parts = [keep_idx, clone_idx]
            new = {k: torch.cat([v[keep_idx], v[clone_idx], children[k]]) for k, v in t.items()}
            parent = torch.cat([avatar.parent[keep_idx], avatar.parent[clone_idx], avatar.parent[split_idx].repeat(2)])
            n_new_children = 2 * len(split_idx)
            _replace(avatar, optimizer, new, parent, torch.cat(parts), n_new_children)
        return {"cloned": len(clone_idx), "split": len(split_idx), "pruned": pruned}


def _replace(avatar, optimizer, new: dict[str, Tensor], parent: Tensor, source: Tensor, n_fresh: int) -> None:
    """Swap the avatar's per-Gaussian tensors; carry Adam moments for copied rows, zeros for new children."""
    old = avatar.gaussian_tensors()
    avatar.set_gaussians(new, parent)
    fresh = avatar.gaussian_tensors()
    for group in optimizer.param_groups:
        for i, p in enumerate(group["params"]):
            name = next((k for k, v in old.items() if v is p), None)
            if name is None:
                continue
            state = optimizer.state.pop(p, None)
            q = fresh[name]
            group["params"][i] = q
            if state:
                carried = {}
                for key, value in state.items():
                    if torch.is_tensor(value) and value.shape[:1] == p.shape[:1] and value.dim() > 0:
                        tail = torch.zeros((n_fresh,) + value.shape[1:], dtype=value.dtype, device=value.device)
                        carried[key] = torch.cat([value[source], tail])
                    else:
                        carried[key] = value
                optimizer.state[q] = carried
