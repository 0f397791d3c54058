"""Head-model parameters: one batch of poses and coefficients."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor


@dataclass
class HeadParams:
    """Parameters of a parametric head, batched over ``B``.

    All rotations are axis-angle in radians; translations in metres.

    Attributes:
        shape: ``(B, S)`` identity coefficients.
        expression: ``(B, E)`` expression coefficients; for the built-in head the
            52 ARKit weights in :data:`vasa3d.arkit.ARKIT_NAMES` order, in [0, 1].
        jaw: ``(B, 3)`` jaw rotation about the jaw hinge, added to what jawOpen etc. do.
        eyes: ``(B, 2, 3)`` eyeball rotations, ``[:, 0]`` the subject's right eye,
            ``[:, 1]`` the left, added to what the eyeLook* shapes do.
        neck: ``(B, 3)`` head rotation about the neck joint (the neck base stays).
        rotation: ``(B, 3)`` global rotation about the head centre (world origin).
        translation: ``(B, 3)`` global translation.
        scale: ``(B, 1)`` uniform scale about the head centre, after the rotation and before the
            translation: the head's apparent distance (2 looks twice as near); ``None``: 1.
    """

    shape: Tensor
    expression: Tensor
    jaw: Tensor
    eyes: Tensor
    neck: Tensor
    rotation: Tensor
    translation: Tensor
    scale: Tensor | None = None

    @classmethod
    def neutral(cls, batch: int, head, device=None, dtype=torch.float32) -> "HeadParams":
        """Zero shape, expression and pose for ``head`` (a :class:`HeadModel`)."""
        z = lambda *s: torch.zeros(*s, device=device, dtype=dtype)  # noqa: E731
        return cls(z(batch, head.n_shape), z(batch, head.n_expression), z(batch, 3), z(batch, 2, 3),
                   z(batch, 3), z(batch, 3), z(batch, 3))

    @property
    def batch(self) -> int:
        return int(self.expression.shape[0])

    def map(self, fn) -> "HeadParams":
        """Apply ``fn`` to every tensor (e.g. ``lambda t: t.detach()``)."""
        return HeadParams(**{f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                             for f in fields(self)})

    def detach(self) -> "HeadParams":
        return self.map(lambda t: t.detach())

    def clone(self) -> "HeadParams":
        return self.map(lambda t: t.clone())

    def to(self, device) -> "HeadParams":
        return self.map(lambda t: t.to(device))

    def expand(self, batch: int) -> "HeadParams":
        """Repeat a ``B = 1`` parameter set ``batch`` times."""
        if self.batch == batch:
            return self
        if self.batch != 1:
            raise ValueError(f"can only expand a batch of 1, not {self.batch}")
        return self.map(lambda t: t.expand(batch, *t.shape[1:]).clone())

    def __getitem__(self, idx) -> "HeadParams":
        return self.map(lambda t: t[idx] if not isinstance(idx, int) else t[idx: idx + 1])

    @staticmethod
    def cat(items: list["HeadParams"]) -> "HeadParams":
        if any(p.scale is not None for p in items):
            items = [p if p.scale is not None else p.replace(scale=torch.ones_like(p.translation[:, :1]))
                     for p in items]
        return HeadParams(**{f.name: None if getattr(items[0], f.name) is None
                             else torch.cat([getattr(p, f.name) for p in items]) for f in fields(HeadParams)})

    def replace(self, **changes) -> "HeadParams":
        return replace(self, **changes)
