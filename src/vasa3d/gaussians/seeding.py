"""Where the avatar's Gaussians start: on the fitted mesh, coloured from the portrait."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from vasa3d.render.camera import Camera

from .binding import TriangleFrames

#: colour for hidden regions that no pixel of the portrait shows (e.g. the inside of a closed mouth)
#: Gaussian standard deviation in units of the mean spacing of the samples on a triangle
SPREAD = 1.0

HIDDEN_COLOURS = {"mouth_interior": (0.30, 0.10, 0.10)}


def allocate(areas: np.ndarray, weights: np.ndarray, total: int) -> np.ndarray:
    """Gaussians per triangle ``(F,)`` proportional to ``area * weight``, summing to ``total``.

    Largest-remainder rounding; every triangle with positive weight gets at
    least one Gaussian when ``total`` allows it.
    """
    w = np.clip(areas, 0, None) * np.clip(weights, 0, None)
    if w.sum() <= 0:
        w = np.ones_like(areas)
    active = w > 0
    base = np.zeros(len(w), dtype=np.int64)
    if total >= active.sum():
        base[active] = 1
    rest = total - base.sum()
    share = w / w.sum() * rest
    counts = base + np.floor(share).astype(np.int64)
    short = total - counts.sum()
    if short > 0:
        order = np.argsort(-(share - np.floor(share)), kind="stable")
        counts[order[:short]] += 1
    return counts


def sample_on_triangles(
    frames: TriangleFrames, vertices: Tensor, faces: Tensor, counts: np.ndarray, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Random points on each triangle and their initial local geometry.

    Args:
        frames: frames of the (single) mesh, leading shape ``(F,)``.
        vertices: ``(V, 3)``; faces: ``(F, 3)``.
        counts: ``(F,)`` Gaussians per triangle.

    Returns:
        parent ``(N,)`` long, world points ``(N, 3)``, local log scales ``(N, 3)``.
    """
    parent = torch.repeat_interleave(torch.arange(len(counts)), torch.as_tensor(counts))
    n = len(parent)
    u = torch.rand(n, 2, generator=generator)
    flip = u.sum(1) > 1
    u[flip] = 1 - u[flip]
    tri = vertices[faces[parent]]  # (N, 3, 3)
    points = tri[:, 0] + u[:, :1] * (tri[:, 1] - tri[:, 0]) + u[:, 1:] * (tri[:, 2] - tri[:, 0])
    v = vertices[faces]
    area = 0.5 * torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1).norm(dim=-1)
    per = area[parent] / torch.as_tensor(counts, dtype=area.dtype)[parent]
    # standard deviation ~ SPREAD x the spacing between neighbours covers the surface
    # without holes; thin along the normal, as the surface is.
    sigma = SPREAD * torch.sqrt(per.clamp_min(1e-12)) / frames.size[parent]
    log_s = torch.log(sigma.clamp_min(1e-4))[:, None].repeat(1, 3)
    log_s[:, 2] += np.log(0.3)
    return parent, points, log_s


def project_colours(
    points: Tensor,
    normals: Tensor,
    regions: Tensor,
    region_names: tuple[str, ...],
    image: np.ndarray,
    mask: np.ndarray | None,
    camera: Camera,
    depth_tolerance: float = 0.01,
) -> tuple[Tensor, Tensor]:
    """Colours ``(N, 3)`` in [0, 1] for surface points seen by ``camera`` in ``image``.

    A point takes the portrait's pixel where it faces the camera, is the
    nearest surface along its pixel (a coarse depth buffer of the points
    themselves) and lies on the foreground mask; every other point copies
    the nearest visible point of its own region (hair for the back of the
    head, skin for the neck), or a fixed colour for regions never seen.

    Returns:
        colours ``(N, 3)`` and the visibility mask ``(N,)`` bool.
    """
    h, w = image.shape[:2]
    uv, depth = camera.project(points)
    centre = camera.position
    facing = ((centre - points) * normals).sum(-1) > 0
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h) & (depth > 0)
    # depth buffer on a grid of cells a few pixels wide: the points sample the
    # surface, so the nearest point in a cell stands for the visible surface
    cell = max(2, int(round(max(h, w) / 96)))
    gw, gh = (w + cell - 1) // cell, (h + cell - 1) // cell
    ix = (uv[:, 0] / cell).long().clamp(0, gw - 1)
    iy = (uv[:, 1] / cell).long().clamp(0, gh - 1)
    key = iy * gw + ix
    zbuf = torch.full((gw * gh,), float("inf"))
    cand = inside & facing
    zbuf.scatter_reduce_(0, key[cand], depth[cand], reduce="amin")
    visible = cand & (depth <= zbuf[key] + depth_tolerance)
    img = torch.as_tensor(image, dtype=torch.float32) / 255.0
    px = uv[:, 0].clamp(0, w - 1).long()
    py = uv[:, 1].clamp(0, h - 1).long()
    if mask is not None:
        visible &= torch.as_tensor(mask)[py, px] > 0.5
    colours = img[py, px].clone()

    vis_np = visible.numpy()
    pts = points.numpy()
    reg = regions.numpy()
    for r, name in enumerate(region_names):
        todo = (~vis_np) & (reg == r)
        if not todo.any():
            continue
        src = vis_np & (reg == r)
        if name in HIDDEN_COLOURS or not src.any():
            if name in HIDDEN_COLOURS:
                colours[torch.as_tensor(todo)] = torch.tensor(HIDDEN_COLOURS[name])
                continue
            src = vis_np
        if not src.any():
            colours[torch.as_tensor(todo)] = 0.5
            continue
        _, nearest = cKDTree(pts[src]).query(pts[todo])
        colours[torch.as_tensor(todo)] = colours[torch.as_tensor(np.flatnonzero(src)[nearest])]
    return colours, visible
