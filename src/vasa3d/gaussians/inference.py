"""A trained avatar prepared for fast, frame-by-frame inference (live sessions, rendering).

:meth:`GaussianAvatar.deform` is written for training: every call re-derives the
canonical Gaussian positions, their positional encoding and the per-Gaussian
half of the first layer of each VAS network, although none of them depends on
the frame. :class:`FrozenAvatar` pays those once per avatar:

    first layer of D^e / D^p:  h_i = relu(W_pt PE(x_i) + b  +  W_cond c(t))
                                     └── per Gaussian, cached ─┘  └ per frame ┘

and evaluates the rest of the networks into preallocated buffers. Its output
equals ``avatar(z_dyn, z_pose)`` to float tolerance (tests/gaussians/test_inference.py).

Optionally (``precision="int8"``) the hidden layers of the VAS networks run as
dynamically quantised int8 matrix products, about twice as fast on a CPU, at a
measured image difference documented in docs/live.md; the default is exact float32.
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from vasa3d.render.types import Gaussians

from .avatar import GaussianAvatar
from .binding import triangle_frames
from .mlp import positional_encoding
from .rotation import quat_multiply

Precision = Literal["float32", "int8"]


class _FrozenVAS:
    """One VAS network (D^e or D^p) restricted to its region's Gaussians, first layer split and cached."""

    def __init__(self, net, idx: Tensor, pe: Tensor, precision: Precision):
        self.idx = idx  # (M,) Gaussians of the region
        with torch.no_grad():
            self.point_part = net.point_in(pe[idx]).contiguous()  # (M, H): W_pt PE(x_i) + b, once
        self.cond_weight = net.cond_in.weight.detach().t().contiguous()  # (C, H)
        layers = list(net.rest.layers)
        self.weights = [layer.weight.detach().t().contiguous() for layer in layers]  # (H_in, H_out)
        self.biases = [layer.bias.detach().contiguous() for layer in layers]
        self.quantized = None
        if precision == "int8" and len(layers) > 1:
            self.quantized = [_Int8Linear(layer) for layer in layers[:-1]]
        m, h = self.point_part.shape
        self.buffers = [torch.empty(m, h)] + [torch.empty(m, w.shape[1]) for w in self.weights]

    def __call__(self, cond: Tensor) -> Tensor:
        """``cond (C,)`` -> residuals ``(M, 14)`` of the region's Gaussians."""
        h = self.buffers[0]
        torch.add(self.point_part, cond @ self.cond_weight, out=h)
        h.relu_()
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if self.quantized is not None and i < last:
                out = self.quantized[i](h)
            else:
                out = torch.addmm(b, h, w, out=self.buffers[i + 1])
            if i < last:
                out.relu_()
            h = out
        return h


class _Int8Linear:
    """A linear layer as a dynamically quantised int8 product (fbgemm/onednn), weights quantised once."""

    def __init__(self, layer: torch.nn.Linear):
        w = layer.weight.detach().float()
        scale = float(w.abs().max().clamp_min(1e-12)) / 127.0
        with warnings.catch_warnings():  # the quantised-tensor API is marked deprecated; it still runs
            warnings.simplefilter("ignore")
            qweight = torch.quantize_per_tensor(w, scale, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(qweight, layer.bias.detach().float())

    def __call__(self, x: Tensor) -> Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)


class FrozenAvatar:
    """``avatar`` frozen for inference: ``frozen(z_dyn (Dd,), z_pose (Dp,)) -> Gaussians`` (``G''``).

    Build it once per avatar (it holds a few MB per thousand Gaussians); the avatar must
    not be trained further while a FrozenAvatar of it is in use.

    Args:
        avatar: a trained :class:`GaussianAvatar` (CPU or CUDA).
        precision: ``"float32"`` (exact, the default) or ``"int8"`` (VAS hidden layers quantised; CPU only).

    Example::

        frozen = FrozenAvatar(load_avatar("me.vasa3d"))
        gaussians = frozen(motion.z_dyn[t], motion.z_pose[t])
    """

    def __init__(self, avatar: GaussianAvatar, precision: Precision = "float32"):
        if precision not in ("float32", "int8"):
            from vasa3d.errors import InputError

            raise InputError(f"unknown precision {precision!r}; use float32 or int8")
        if precision == "int8" and avatar.means.device.type != "cpu":
            precision = "float32"  # quantised kernels are CPU kernels; a GPU has time to spare
        self.avatar = avatar
        self.precision = precision
        with torch.no_grad():
            self.parent = avatar.parent
            self.local_means = avatar.means.detach()
            self.local_quats = F.normalize(avatar.quats.detach(), dim=-1)
            self.raw_quats = avatar.quats.detach()
            self.log_scales = avatar.log_scales.detach()
            self.opacity_logits = avatar.opacity_logits.detach()
            self.sh = avatar.sh.detach()
            self.faces = avatar.head.faces
            self.vas: list[tuple[_FrozenVAS, str]] = []
            if avatar.D_e is not None:
                region = avatar.head.face_regions.to(self.parent.device)[self.parent]
                pe = positional_encoding(avatar.canonical_means() / avatar.config.pe_extent, avatar.config.pe_freqs)
                for net, ids, kind in ((avatar.D_e, avatar._face_region_ids, "e"),
                                       (avatar.D_p, avatar._neck_region_ids, "p")):
                    idx = torch.nonzero(torch.isin(region, ids)).flatten()
                    if len(idx):
                        self.vas.append((_FrozenVAS(net, idx, pe, precision), kind))
            n = self.local_means.shape[0]
            self.residual = torch.zeros(n, 14, dtype=self.local_means.dtype, device=self.local_means.device)

    @property
    def n_gaussians(self) -> int:
        return self.local_means.shape[0]

    def __call__(self, z_dyn: Tensor, z_pose: Tensor) -> Gaussians:
        """One frame: ``z_dyn (Dd,)`` or ``(1, Dd)``, ``z_pose (Dp,)`` or ``(1, Dp)`` -> :class:`Gaussians` (N)."""
        av = self.avatar
        with torch.no_grad():
            z_dyn = torch.as_tensor(z_dyn).reshape(1, av.dyn_dim).to(self.local_means)
            z_pose = torch.as_tensor(z_pose).reshape(1, av.pose_dim).to(self.local_means)
            params = av.head_params(z_dyn, z_pose)
            frames = triangle_frames(av.head(params)[0], self.faces)
            if not self.vas:
                means, quats, log_scales = self.local_means, self.raw_quats, self.log_scales
                opacity, sh = self.opacity_logits, self.sh
            else:
                r = self._residuals(z_dyn, z_pose, params)
                means = self.local_means + r[:, 0:3]
                quats = self.raw_quats + r[:, 3:7]
                log_scales = self.log_scales + r[:, 7:10]
                opacity = self.opacity_logits + r[:, 13]
                sh = self.sh.clone()
                sh[:, 0] += r[:, 10:13]
            return self._bind(frames, means, quats, log_scales, opacity, sh)

    def _residuals(self, z_dyn: Tensor, z_pose: Tensor, params) -> Tensor:
        conds = {
            "e": torch.cat([z_dyn[0], params.expression[0], params.jaw[0], params.eyes.reshape(-1)]),
            "p": torch.cat([self.avatar.network_pose(z_pose)[0], params.neck[0], params.rotation[0],
                            params.translation[0]]),
        }
        r = self.residual
        for vas, kind in self.vas:
            r.index_copy_(0, vas.idx, vas(conds[kind]))
        return r

    def _bind(self, frames, means, quats, log_scales, opacity, sh) -> Gaussians:
        p = self.parent
        R = frames.rotation[p]  # (N, 3, 3)
        s = frames.size[p]  # (N,)
        world_means = torch.bmm(R, (means * s[:, None]).unsqueeze(-1)).squeeze(-1) + frames.centre[p]
        world_quats = quat_multiply(frames.quat[p], F.normalize(quats, dim=-1))
        world_log_scales = log_scales + torch.log(s)[:, None]
        return Gaussians(world_means, world_quats, world_log_scales, opacity, sh)
