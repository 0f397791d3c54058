"""A small HeadModel-compatible stand-in (an ellipsoid with regions, blendshapes, a jaw and pose).

Used by the gaussians/train/eval tests to exercise the avatar against a head
whose geometry is known exactly; it follows the vasa3d.head interface.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.gaussians.rotation import axis_angle_to_matrix

REGIONS = ("face", "lips", "eyes", "eyeballs", "mouth_interior", "scalp", "ears", "neck")


@dataclass
class HeadParams:
    shape: Tensor
    expression: Tensor
    jaw: Tensor
    eyes: Tensor
    neck: Tensor
    rotation: Tensor
    translation: Tensor

    @staticmethod
    def neutral(batch: int, head, device=None, dtype=torch.float32) -> "HeadParams":
        z = lambda *s: torch.zeros(*s, device=device, dtype=dtype)  # noqa: E731
        return HeadParams(z(batch, head.n_shape), z(batch, head.n_expression), z(batch, 3), z(batch, 2, 3),
                          z(batch, 3), z(batch, 3), z(batch, 3))


def params_from_latent(z_dyn: Tensor, z_pose: Tensor, shape: Tensor, latent_map: Tensor | None = None) -> HeadParams:
    assert latent_map is None, "the ellipsoid head is an ARKit head"
    b = z_dyn.shape[0]
    jaw = torch.zeros(b, 3, dtype=z_dyn.dtype)
    jaw = jaw + torch.stack([0.4 * z_dyn[:, ARKIT_INDEX["jawOpen"]], 0 * z_dyn[:, 0], 0 * z_dyn[:, 0]], -1)
    return HeadParams(shape.expand(b, -1), z_dyn, jaw, torch.zeros(b, 2, 3), torch.zeros(b, 3),
                      z_pose[:, :3], z_pose[:, 3:6])


class EllipsoidHead(nn.Module):
    """A UV ellipsoid 0.16 x 0.22 x 0.18 m; the front-lower cap is the 'face', a band is 'lips'."""

    n_shape = 4
    n_expression = 52

    def __init__(self, rings: int = 14, segments: int = 20):
        super().__init__()
        verts = [[0.0, 1.0, 0.0]]
        for i in range(1, rings):
            th = math.pi * i / rings
            for j in range(segments):
                ph = 2 * math.pi * j / segments
                verts.append([math.sin(th) * math.sin(ph), math.cos(th), math.sin(th) * math.cos(ph)])
        verts.append([0.0, -1.0, 0.0])
        v = torch.tensor(verts) * torch.tensor([0.08, 0.11, 0.09])
        faces = []
        for j in range(segments):
            faces.append([0, 1 + j, 1 + (j + 1) % segments])
        for i in range(rings - 2):
            a, b = 1 + i * segments, 1 + (i + 1) * segments
            for j in range(segments):
                j2 = (j + 1) % segments
                faces.append([a + j, b + j, b + j2])
                faces.append([a + j, b + j2, a + j2])
        last = 1 + (rings - 2) * segments
        bottom = len(verts) - 1
        for j in range(segments):
            faces.append([bottom, last + (j + 1) % segments, last + j])
        self.register_buffer("template", v)
        self.register_buffer("faces", torch.tensor(faces, dtype=torch.long))
        g = torch.Generator().manual_seed(1)
        self.register_buffer("shape_dirs", torch.randn(self.n_shape, len(v), 3, generator=g) * 0.003)
        self.register_buffer("expr_dirs", torch.randn(self.n_expression, len(v), 3, generator=g) * 0.002)
        c = v[self.faces].mean(1)
        region = torch.full((len(faces),), REGIONS.index("scalp"), dtype=torch.long)
        front = c[:, 2] > 0.03
        region[front] = REGIONS.index("face")
        region[front & (c[:, 1].abs() < 0.02) & (c[:, 1] < 0)] = REGIONS.index("lips")
        region[c[:, 1] < -0.08] = REGIONS.index("neck")
        self.register_buffer("face_regions", region)
        vr = torch.full((len(v),), REGIONS.index("scalp"), dtype=torch.long)
        vr[v[:, 2] > 0.03] = REGIONS.index("face")
        self.register_buffer("vertex_regions", vr)
        self.register_buffer("landmark_vertices", torch.zeros(478, dtype=torch.long))
        self.regions = REGIONS

    @property
    def n_vertices(self) -> int:
        return self.template.shape[0]

    def forward(self, params: HeadParams) -> Tensor:
        v = self.template + torch.einsum("bs,svk->bvk", params.shape, self.shape_dirs)
        v = v + torch.einsum("be,evk->bvk", params.expression, self.expr_dirs)
        # jaw: rotate the lower front about a hinge behind the mouth
        lower = ((self.template[:, 1] < -0.01) & (self.template[:, 2] > 0)).float()[None, :, None]
        hinge = torch.tensor([0.0, 0.0, -0.02])
        Rj = axis_angle_to_matrix(params.jaw)
        v = v + lower * (((v - hinge) @ Rj.transpose(-1, -2)) + hinge - v)
        R = axis_angle_to_matrix(params.rotation)
        return v @ R.transpose(-1, -2) + params.translation[:, None]

    def config(self) -> dict:
        return {"kind": "test-ellipsoid"}


def build_head(config: dict | None = None, model_file=None) -> EllipsoidHead:
    return EllipsoidHead()


def install(monkeypatch) -> None:
    """Make ``vasa3d.head`` answer with this module's names."""
    import vasa3d.head as head_mod

    for name in ("HeadParams", "params_from_latent", "build_head", "REGIONS"):
        monkeypatch.setattr(head_mod, name, globals()[name], raising=False)


@dataclass
class Fit:
    params: HeadParams
    camera: object
    landmark_error: float = 0.0


@dataclass
class Analysis:
    image: object
    mask: object
    landmarks: object = None


def portrait_scene(size: int = 96, head: EllipsoidHead | None = None):
    """A head, a front camera and a portrait whose colour is known everywhere.

    The portrait is red on the image's left half, blue on its right half and a
    green stripe across the rows of the mouth; the mask covers everything.
    """
    import numpy as np

    from vasa3d.render.camera import Camera

    head = head or EllipsoidHead()
    cam = Camera.orbit(0.0, 0.0, 0.6, width=size, height=size, fov_deg=30.0)
    img = np.zeros((size, size, 3), np.uint8)
    img[:, : size // 2] = (200, 30, 30)
    img[:, size // 2 :] = (30, 30, 200)
    params = HeadParams.neutral(1, head)
    params = dataclasses.replace(params, shape=torch.zeros(1, head.n_shape))
    return head, Fit(params, cam), Analysis(img, np.ones((size, size), np.float32))
