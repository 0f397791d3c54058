"""The small networks of the paper: 3 fully connected layers, 256 hidden units, ReLU."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def positional_encoding(x: Tensor, n_freqs: int) -> Tensor:
    """NeRF's sinusoidal encoding: ``(..., D)`` -> ``(..., D * (1 + 2 * n_freqs))``.

    ``[x, sin(2^k pi x), cos(2^k pi x)]`` for ``k = 0 .. n_freqs - 1``.
    """
    freqs = (2.0 ** torch.arange(n_freqs, dtype=x.dtype, device=x.device)) * math.pi
    angles = (x[..., None, :] * freqs[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1)


class MLP(nn.Module):
    """``layers`` fully connected layers with ReLU between them.

    With ``zero_last`` the output layer starts at zero, so a residual branch
    begins as the identity of whatever it is added to.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, layers: int = 3, zero_last: bool = True):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        if zero_last:
            nn.init.zeros_(self.layers[-1].weight)
            nn.init.zeros_(self.layers[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class ConditionedMLP(nn.Module):
    """An :class:`MLP` over ``[point features, per-frame condition]`` for many points at once.

    The first layer is split so the condition's product is computed once per
    frame and broadcast over the points; the result is identical to running
    the plain MLP on the concatenation.
    """

    def __init__(self, point_dim: int, cond_dim: int, out_dim: int, hidden: int = 256, layers: int = 3):
        super().__init__()
        self.point_in = nn.Linear(point_dim, hidden)
        self.cond_in = nn.Linear(cond_dim, hidden, bias=False)
        self.rest = MLP(hidden, out_dim, hidden, layers - 1, zero_last=True)

    def forward(self, points: Tensor, cond: Tensor) -> Tensor:
        """``points (N, P)``, ``cond (B, C)`` -> ``(B, N, out_dim)``."""
        h = self.point_in(points)[None] + self.cond_in(cond)[:, None]
        return self.rest(torch.relu(h))
