"""A trained avatar prepared for fast, frame-by-frame inference (live sessions, rendering).

:meth:`GaussianAvatar.deform` is written for training: every call re-derives the
canonical Gaussian positions, their positional encoding and the per-Gaussian
half of the first layer of each VAS network, although none of them depends on
the frame. :class:`FrozenAvatar` pays those once per avatar:

    first layer of D^e / D^p:  h_i = relu(W_pt PE(x_i) + b  +  W_cond c(t))
                                     └── per Gaussian, cached ─┘  └ per frame ┘

and evaluates the rest of the networks into preallocated buffers. Its output
equals ``avatar(z_dyn, z_pose)`` to float tolerance (tests/gaussians/test_inference.py).

Optionally the VAS networks run in reduced precision, at a measured image
difference documented in docs/live.md (the default is exact float32):
``precision="int8"`` runs the hidden layers as dynamically quantised int8 matrix
products (about 1.5x faster on any CPU); ``precision="bfloat16"`` runs the whole
networks in bf16 with oneDNN's fused linear + ReLU (about 4x faster where the CPU
has bf16 matrix units, AMX or AVX512-BF16; :func:`best_cpu_precision` picks).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from numba import njit
from torch import Tensor

from vasa3d.render.types import Gaussians

from .avatar import GaussianAvatar
from .binding import triangle_frames
from .mlp import positional_encoding
from .rotation import quat_multiply

Precision = Literal["float32", "int8", "bfloat16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def best_cpu_precision() -> Precision:
    """The fastest VAS precision this CPU runs natively: bfloat16 where it has bf16 matrix units
    (AMX tiles or AVX512-BF16, where oneDNN's bf16 products run about 9x faster than float32),
    else int8 (dynamically quantised; about 1.5x faster than float32 everywhere)."""
    cpu = getattr(torch, "cpu", None)
    try:
        if cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported():
            return "bfloat16"
    except Exception:  # the probes are private torch API: without them, stay with what runs everywhere
        pass
    return "int8"

#: Gaussians per block of the VAS networks: a block's (rows, 256) float32 activations (4 MB) stay in cache
CHUNK_ROWS = 4096


def _frozen_vas(net, idx: Tensor, pe: Tensor, precision: Precision):
    """The VAS network ``net`` on the Gaussians ``idx`` for ``precision``: ``vas(cond (C,)) -> (M, 14)``.

    bfloat16 falls back to float32 where this torch build has no oneDNN fused bf16 kernels.
    """
    if precision == "bfloat16":
        vas = _Bf16VAS(net, idx, pe[idx])
        if vas.works():
            return vas
        precision = "float32"
    return _FrozenVAS(net, idx, pe, precision)


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
        rows = min(m, CHUNK_ROWS)
        dev = idx.device
        self.buffers = [torch.empty(rows, h, device=dev)] + [torch.empty(rows, w.shape[1], device=dev)
                                                             for w in self.weights[:-1]]
        self.out = torch.empty(m, self.weights[-1].shape[1], device=dev)

    def __call__(self, cond: Tensor) -> Tensor:
        """``cond (C,)`` -> residuals ``(M, 14)`` of the region's Gaussians.

        Runs in blocks of CHUNK_ROWS Gaussians so that the hidden activations of a block
        stay in the CPU's cache between layers instead of streaming (M, 256) arrays
        through memory at every step.
        """
        per_frame = cond @ self.cond_weight  # (H,)
        last = len(self.weights) - 1
        m = self.point_part.shape[0]
        for s in range(0, m, CHUNK_ROWS):
            e = min(m, s + CHUNK_ROWS)
            h = self.buffers[0][: e - s]
            torch.add(self.point_part[s:e], per_frame, out=h)
            h.relu_()
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                if i == last:
                    torch.addmm(b, h, w, out=self.out[s:e])
                    break
                if self.quantized is not None:
                    h = self.quantized[i](h)
                else:
                    h = torch.addmm(b, h, w, out=self.buffers[i + 1][: e - s])
                h.relu_()
        return self.out


class _Bf16VAS:
    """A VAS network in bfloat16 with oneDNN's fused linear + ReLU (AMX / AVX512-BF16 CPUs, or CUDA).

    With bf16 matrix units the first layer is cheaper recomputed from the positional
    encoding each frame, with the frame's condition folded into its bias, than
    streamed from a cached float32 array: ``h = relu(PE(x_i) W_pt^T + (b + W_c c(t)))``.
    """

    def __init__(self, net, idx: Tensor, pe: Tensor):
        bf = torch.bfloat16
        self.idx = idx  # (M,) Gaussians of the region
        self.pe = pe.detach().to(bf).contiguous()  # (M, P)
        self.cond_weight = net.cond_in.weight.detach().t().contiguous()  # (C, H), float32
        self.w_in = net.point_in.weight.detach().to(bf).contiguous()  # (H, P)
        self.b_in = net.point_in.bias.detach().float()
        layers = list(net.rest.layers)
        self.hidden = [(layer.weight.detach().to(bf).contiguous(), layer.bias.detach().to(bf)) for layer in layers[:-1]]
        self.w_out = layers[-1].weight.detach().to(bf).contiguous()
        self.b_out = layers[-1].bias.detach().to(bf)

    @staticmethod
    def _linear_relu(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return torch.ops.mkldnn._linear_pointwise(x, w, b, "relu", [None], "")
        return torch.relu_(F.linear(x, w, b))

    def works(self) -> bool:
        try:
            self._linear_relu(self.pe[:1], self.w_in, self.b_in.to(torch.bfloat16))
            return True
        except (RuntimeError, AttributeError):
            return False

    def __call__(self, cond: Tensor) -> Tensor:
        """``cond (C,)`` -> residuals ``(M, 14)``, float32."""
        h = self._linear_relu(self.pe, self.w_in, (self.b_in + cond @ self.cond_weight).to(torch.bfloat16))
        for w, b in self.hidden:
            h = self._linear_relu(h, w, b)
        return F.linear(h, self.w_out, self.b_out).float()


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
        precision: ``"float32"`` (exact, the default), ``"int8"`` (VAS hidden layers quantised; CPU only)
            or ``"bfloat16"`` (VAS networks in bf16; fast where the CPU has bf16 matrix units or on a GPU).

    Example::

        frozen = FrozenAvatar(load_avatar("me.vasa3d"))
        gaussians = frozen(motion.z_dyn[t], motion.z_pose[t])
    """

    def __init__(self, avatar: GaussianAvatar, precision: Precision = "float32"):
        if precision not in PRECISIONS:
            from vasa3d.errors import InputError

            raise InputError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
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
                        self.vas.append((_frozen_vas(net, idx, pe, precision), kind))
            if precision == "bfloat16" and not all(isinstance(vas, _Bf16VAS) for vas, _ in self.vas):
                self.precision = "float32"  # what runs where this torch has no bf16 kernels
            self._parent_np = self.parent.to(torch.int64).cpu().numpy()
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
        if self.local_means.device.type == "cpu" and self.local_means.dtype == torch.float32:
            n = means.shape[0]
            out = torch.empty(n, 10)
            _bind_kernel(self._parent_np, frames.rotation.contiguous().numpy(), frames.size.contiguous().numpy(),
                         frames.centre.contiguous().numpy(), frames.quat.contiguous().numpy(),
                         means.contiguous().numpy(), quats.contiguous().numpy(), log_scales.contiguous().numpy(),
                         out.numpy())
            return Gaussians(out[:, 0:3], out[:, 3:7], out[:, 7:10], opacity, sh)
        return self._bind_torch(frames, means, quats, log_scales, opacity, sh)

    def _bind_torch(self, frames, means, quats, log_scales, opacity, sh) -> Gaussians:
        """The plain-torch binding (GPU, float64; the reference of :func:`_bind_kernel`)."""
        p = self.parent
        R = frames.rotation[p]  # (N, 3, 3)
        s = frames.size[p]  # (N,)
        world_means = torch.bmm(R, (means * s[:, None]).unsqueeze(-1)).squeeze(-1) + frames.centre[p]
        world_quats = quat_multiply(frames.quat[p], F.normalize(quats, dim=-1))
        world_log_scales = log_scales + torch.log(s)[:, None]
        return Gaussians(world_means, world_quats, world_log_scales, opacity, sh)


@njit(cache=True, nogil=True)
def _bind_kernel(parent, rot, size, centre, fquat, means, quats, log_scales, out):
    """World geometry of ``N`` bound Gaussians in one pass, writing ``out (N, 10)``: means, quats, log-scales.

    ``parent (N,)``, ``rot (F, 3, 3)``, ``size (F,)``, ``centre (F, 3)``, ``fquat (F, 4)`` (w, x, y, z);
    the local ``means (N, 3)``, ``quats (N, 4)`` (normalised here), ``log_scales (N, 3)``.  The same maths
    as :meth:`FrozenAvatar._bind_torch` (R_f (mean s_f) + c_f, q_f * q, log-scale + log s_f) without the
    (N, 3, 3) gathers that dominate it in torch.
    """
    for i in range(parent.shape[0]):
        f = parent[i]
        s = size[f]
        mx, my, mz = means[i, 0] * s, means[i, 1] * s, means[i, 2] * s
        for r in range(3):
            out[i, r] = rot[f, r, 0] * mx + rot[f, r, 1] * my + rot[f, r, 2] * mz + centre[f, r]
        bw, bx, by, bz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
        norm = max(math.sqrt(bw * bw + bx * bx + by * by + bz * bz), 1e-12)
        bw, bx, by, bz = bw / norm, bx / norm, by / norm, bz / norm
        aw, ax, ay, az = fquat[f, 0], fquat[f, 1], fquat[f, 2], fquat[f, 3]
        out[i, 3] = aw * bw - ax * bx - ay * by - az * bz
        out[i, 4] = aw * bx + ax * bw + ay * bz - az * by
        out[i, 5] = aw * by - ax * bz + ay * bw + az * bx
        out[i, 6] = aw * bz + ax * by - ay * bx + az * bw
        ls = math.log(s)
        for r in range(3):
            out[i, 7 + r] = log_scales[i, r] + ls
