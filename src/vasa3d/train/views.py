"""Extra cameras the losses render from: the consistency view and random SDS views."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vasa3d.render.camera import Camera


def azimuth_elevation(camera: Camera, target: Tensor) -> tuple[float, float]:
    """Azimuth (degrees, + toward the subject's left, 0 in front) and elevation of a camera around ``target``."""
    d = camera.position.reshape(3) - target.reshape(3)
    az = math.degrees(math.atan2(float(d[0]), float(d[2])))
    el = math.degrees(math.atan2(float(d[1]), float(torch.linalg.norm(d[[0, 2]]))))
    return az, el


def orbit_like(camera: Camera, target: Tensor, azimuth_deg: float, elevation_deg: float) -> Camera:
    """A camera with ``camera``'s intrinsics and distance to ``target``, at the given azimuth/elevation."""
    target = target.reshape(3).float()
    dist = float(torch.linalg.norm(camera.position.reshape(3) - target))
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    offset = torch.tensor([math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])
    return Camera.look_at(target + dist * offset, target, (0.0, 1.0, 0.0), camera.width, camera.height,
                          K=camera.K.reshape(3, 3).clone())


def consistency_view(
    camera: Camera,
    target: Tensor,
    generator: torch.Generator,
    azimuth_range: tuple[float, float] = (35.0, 55.0),
    elevation: float = 15.0,
) -> Camera:
    """The paper's new view for L_consist: azimuth in +-[35, 55] degrees on the side farther from
    the training view, elevation in [-15, 15], same distance and intrinsics as ``camera``."""
    az_train, _ = azimuth_elevation(camera, target)
    u = torch.rand(2, generator=generator)
    mag = azimuth_range[0] + float(u[0]) * (azimuth_range[1] - azimuth_range[0])
    az = -mag if az_train > 0 else mag
    el = (2 * float(u[1]) - 1) * elevation
    return orbit_like(camera, target, az, el)


def random_view(camera: Camera, target: Tensor, generator: torch.Generator,
                azimuth: float = 180.0, elevation: float = 22.5) -> Camera:
    """A uniformly random view over azimuth +-``azimuth`` and elevation +-``elevation`` (SDS)."""
    u = torch.rand(2, generator=generator)
    return orbit_like(camera, target, (2 * float(u[0]) - 1) * azimuth, (2 * float(u[1]) - 1) * elevation)
