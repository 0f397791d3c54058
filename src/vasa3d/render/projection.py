"""EWA projection of 3D Gaussians to screen-space 2D Gaussians (plain PyTorch).

This is the reference projection: vectorised over Gaussians and
differentiable through autograd.  The ``torch`` backend uses it, so does
the ``cpu`` backend when it trains in antialiased mode; otherwise the
``cpu`` backend runs its numba twin (:mod:`._project_kernel`, with an
analytic backward), which the tests hold to this one.

The maths, for one camera with rotation ``W``, translation ``t`` and focal
lengths ``fx, fy``:

* camera-space centre ``p = W @ mean + t``; Gaussians with ``p.z`` below
  the near plane are dropped;
* 3D covariance ``Sigma = R(q) diag(s)^2 R(q)^T``;
* the perspective Jacobian ``J`` at ``p`` (with ``p.x/p.z`` and ``p.y/p.z``
  clamped to 1.3 times the half field of view, so that Gaussians far
  outside the frustum do not smear across the image);
* screen covariance ``Sigma2 = J W Sigma W^T J^T + eps2d * I``.  The
  ``eps2d = 0.3`` px^2 dilation is the usual low-pass filter of 3DGS: every
  splat covers at least about one pixel, which keeps thin or tiny
  Gaussians from aliasing.  With ``antialiased=True`` the opacity is also
  multiplied by ``sqrt(det(Sigma2 - eps2d I) / det(Sigma2))`` (the
  Mip-Splatting compensation that gsplat calls "antialiased"), so that the
  dilation does not make small Gaussians brighter.

A Gaussian then covers exactly the pixels where its alpha
``opacity * exp(-0.5 d^T Sigma2^-1 d)`` is at least 1/255; :func:`project`
returns the axis-aligned half extents of that ellipse so that a tiler
never misses a pixel and never needs a cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .camera import Camera
from .sh import eval_sh
from .types import Gaussians

ALPHA_MIN = 1.0 / 255.0  # contributions below this alpha are skipped
ALPHA_MAX = 0.999  # alpha is clamped here so that transmittance never hits 0 (gsplat's value)
T_MIN = 1e-4  # a pixel is done before the Gaussian that would take its transmittance to <= this


@dataclass
class Projected:
    """The ``M`` Gaussians that one camera sees, sorted front to back.

    Attributes:
        ids: ``(M,)`` long, index of each into the input Gaussians.
        means2d: ``(M, 2)`` pixel coordinates of the centres (pixel centres at +0.5).
        conics: ``(M, 3)`` the inverse screen covariance ``(a, b, c)`` = ``[[a, b], [b, c]]``.
        colors: ``(M, 3)`` view-dependent colour from the SH coefficients.
        opacities: ``(M,)`` in (0, 1) (compensated in antialiased mode).
        depths: ``(M,)`` camera-space z of the centres.
        extents: ``(M, 2)`` half width and half height in pixels of the
            ellipse where alpha >= 1/255 (no gradient).
    """

    ids: Tensor
    means2d: Tensor
    conics: Tensor
    colors: Tensor
    opacities: Tensor
    depths: Tensor
    extents: Tensor

    def __len__(self) -> int:
        return self.ids.shape[0]


def quat_to_rotmat(q: Tensor) -> Tensor:
    """Rotation matrices ``(N, 3, 3)`` from quaternions ``(N, 4)`` (w, x, y, z), normalised here."""
    w, x, y, z = F.normalize(q, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def project(
    gaussians: Gaussians,
    camera: Camera,
    width: int,
    height: int,
    sh_degree: int | None = None,
    eps2d: float = 0.3,
    near_plane: float = 0.01,
    antialiased: bool = False,
) -> Projected:
    """Project ``gaussians`` into one (unbatched) ``camera`` of size ``width x height``.

    Gaussians behind the near plane, with opacity below 1/255, or whose
    footprint misses the image are dropped.  The result is sorted by
    camera depth (stable, so ties keep their input order).
    """
    means = gaussians.means
    dtype = means.dtype
    K = camera.K.reshape(3, 3).to(dtype)
    w2c = camera.world_to_cam.reshape(4, 4).to(dtype)
    W, t = w2c[:3, :3], w2c[:3, 3]
    fx, fy, cx, cy = (float(v) for v in (K[0, 0], K[1, 1], K[0, 2], K[1, 2]))

    with torch.no_grad():
        z_all = means.detach() @ W[2] + t[2]
        front = (z_all > near_plane).nonzero().squeeze(1)
    p = means[front] @ W.T + t  # (n, 3) camera space
    x, y, z = p.unbind(-1)
    if sh_degree is None:
        sh_degree = gaussians.sh_degree
    sh_degree = min(sh_degree, gaussians.sh_degree)
    opac = torch.sigmoid(gaussians.opacity_logits[front])

    # Perspective Jacobian, evaluated at a point clamped to 1.3x the half field of view.
    lim_x = 0.3 * 0.5 * width / fx
    lim_y = 0.3 * 0.5 * height / fy
    tx = z * torch.clamp(x / z, -(cx / fx + lim_x), (width - cx) / fx + lim_x)
    ty = z * torch.clamp(y / z, -(cy / fy + lim_y), (height - cy) / fy + lim_y)
    zero = torch.zeros_like(z)
    J = torch.stack(
        [fx / z, zero, -fx * tx / (z * z), zero, fy / z, -fy * ty / (z * z)], dim=-1
    ).reshape(-1, 2, 3)

    R = quat_to_rotmat(gaussians.quats[front])
    M = R * torch.exp(gaussians.log_scales[front]).unsqueeze(-2)  # columns scaled: Sigma = M M^T
    A = J @ (W @ M)  # (n, 2, 3)
    a = (A[:, 0] * A[:, 0]).sum(-1)
    b = (A[:, 0] * A[:, 1]).sum(-1)
    c = (A[:, 1] * A[:, 1]).sum(-1)
    # det(A A^T) as the sum of squared 2x2 minors (Cauchy-Binet): no cancellation for needles
    m01 = A[:, 0, 0] * A[:, 1, 1] - A[:, 0, 1] * A[:, 1, 0]
    m02 = A[:, 0, 0] * A[:, 1, 2] - A[:, 0, 2] * A[:, 1, 0]
    m12 = A[:, 0, 1] * A[:, 1, 2] - A[:, 0, 2] * A[:, 1, 1]
    det_orig = m01 * m01 + m02 * m02 + m12 * m12
    det = det_orig + eps2d * (a + c) + eps2d * eps2d
    a = a + eps2d
    c = c + eps2d
    ok = det > 0
    det = torch.where(ok, det, torch.ones_like(det))
    if antialiased:
        opac = opac * torch.sqrt((det_orig / det).clamp_min(1e-12))  # det >= eps2d^2 > 0
    conics = torch.stack([c / det, -b / det, a / det], dim=-1)
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], dim=-1)

    with torch.no_grad():
        level = torch.log((opac.detach() / ALPHA_MIN).clamp_min(1.0))  # alpha >= 1/255 <=> power <= level
        rx = torch.sqrt(2.0 * level * a.detach()) * 1.0001 + 1e-3
        ry = torch.sqrt(2.0 * level * c.detach()) * 1.0001 + 1e-3
        u, v = means2d.detach().unbind(-1)
        keep = (
            ok
            & (opac.detach() >= ALPHA_MIN)
            & (u + rx > 0) & (u - rx < width) & (v + ry > 0) & (v - ry < height)
        )
        sel = keep.nonzero().squeeze(1)
        order = torch.sort(z.detach()[sel], stable=True).indices
        sel = sel[order]

    ids = front[sel]
    cam_pos = camera.position.reshape(3).to(dtype)
    dirs = F.normalize(gaussians.means[ids] - cam_pos, dim=-1)
    colors = eval_sh(gaussians.sh[ids], dirs, sh_degree)
    return Projected(
        ids=ids,
        means2d=means2d[sel],
        conics=conics[sel],
        colors=colors,
        opacities=opac[sel],
        depths=z[sel],
        extents=torch.stack([rx[sel], ry[sel]], dim=-1),
    )

