"""Z-buffered triangle rasterization and texture lookup for the mesh-warp animator.

The animator projects the head mesh with a :class:`~vasa3d.render.camera.Camera`
and needs, for every pixel, which triangle is in front and where inside it
the pixel falls.  :func:`rasterize_mesh` answers that with perspective-correct
barycentrics; :func:`interpolate` turns per-vertex attributes into per-pixel
ones and :func:`sample_bilinear` reads an image at per-pixel coordinates.

Conventions: pixel centres at integer + 0.5 (as in ``render/camera.py``), so
pixel ``(row r, col c)`` is the point ``(u, v) = (c + 0.5, r + 0.5)``.  A pixel
is inside a triangle when its centre is inside or on an edge.  Depth is the
camera-space ``z``; triangles with a vertex at ``z <= near`` are skipped.

Each numba kernel has a plain-numpy twin (``_reference``) that the tests
compare against.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["MeshRaster", "rasterize_mesh", "interpolate", "sample_bilinear"]

_NO_TRIANGLE = -1


class MeshRaster:
    """Per-pixel result of :func:`rasterize_mesh`.

    Attributes:
        tri_id: ``(H, W) int32`` index of the front triangle, -1 where none.
        bary: ``(H, W, 3) float32`` perspective-correct barycentrics (0 where none).
        depth: ``(H, W) float32`` camera-space z of the surface, ``inf`` where none.
    """

    __slots__ = ("tri_id", "bary", "depth")

    def __init__(self, tri_id: np.ndarray, bary: np.ndarray, depth: np.ndarray) -> None:
        self.tri_id, self.bary, self.depth = tri_id, bary, depth

    @property
    def covered(self) -> np.ndarray:
        """``(H, W) bool`` pixels that some triangle covers."""
        return self.tri_id >= 0


@njit(cache=True, nogil=True)
def _raster_rows(uv, z, faces, face_ok, cull, near, width, tri_id, bary, depth, r_lo, r_hi):
    """Rasterize every triangle into the rows ``[r_lo, r_hi)`` (nearest surface wins)."""
    for f in range(faces.shape[0]):
        if not face_ok[f]:
            continue
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        z0, z1, z2 = z[i0], z[i1], z[i2]
        if z0 <= near or z1 <= near or z2 <= near:
            continue
        x0, y0 = uv[i0, 0], uv[i0, 1]
        x1, y1 = uv[i1, 0], uv[i1, 1]
        x2, y2 = uv[i2, 0], uv[i2, 1]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if abs(area) < 1e-12:
            continue
        if cull * area > 0.0:
            continue
        ymin = min(y0, min(y1, y2))
        ymax = max(y0, max(y1, y2))
        r0 = max(r_lo, int(np.ceil(ymin - 0.5)))
        r1 = min(r_hi - 1, int(np.floor(ymax - 0.5)))
        if r0 > r1:
            continue
        xmin = min(x0, min(x1, x2))
        xmax = max(x0, max(x1, x2))
        c0 = max(0, int(np.ceil(xmin - 0.5)))
        c1 = min(width - 1, int(np.floor(xmax - 0.5)))
        if c0 > c1:
            continue
        inv_area = 1.0 / area
        iz0, iz1, iz2 = 1.0 / z0, 1.0 / z1, 1.0 / z2
        for r in range(r0, r1 + 1):
            py = r + 0.5
            for c in range(c0, c1 + 1):
                px = c + 0.5
                w0 = ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) * inv_area
                w1 = ((x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)) * inv_area
                w2 = 1.0 - w0 - w1
                if w0 < 0.0 or w1 < 0.0 or w2 < 0.0:
                    continue
                q0, q1, q2 = w0 * iz0, w1 * iz1, w2 * iz2
                s = q0 + q1 + q2
                d = 1.0 / s
                if d < depth[r, c]:
                    depth[r, c] = d
                    tri_id[r, c] = f
                    bary[r, c, 0] = q0 * d
                    bary[r, c, 1] = q1 * d
                    bary[r, c, 2] = q2 * d


# Two kernels with their own source, not one function jitted twice: numba names a cache entry after the
# Python function and its signature, not after the flags, so the serial kernel loaded whichever variant was
# compiled first; after the parallel one had been, a forked dataset worker ran OpenMP code and GNU OpenMP
# aborts a fork of a process that used it ("forked build never starts").
@njit(cache=True, nogil=True)
def _raster_serial(uv, z, faces, face_ok, cull, near, height, width, tri_id, bary, depth, band_rows):
    _raster_rows(uv, z, faces, face_ok, cull, near, width, tri_id, bary, depth, 0, height)


@njit(cache=True, nogil=True, parallel=True)
def _raster_parallel(uv, z, faces, face_ok, cull, near, height, width, tri_id, bary, depth, band_rows):
    n_bands = (height + band_rows - 1) // band_rows
    for band in prange(n_bands):
        r_lo = band * band_rows
        _raster_rows(uv, z, faces, face_ok, cull, near, width, tri_id, bary, depth, r_lo,
                     min(height, r_lo + band_rows))


def _prepare(uv, depth, faces, face_mask):
    uv = np.ascontiguousarray(uv, dtype=np.float64).reshape(-1, 2)
    z = np.ascontiguousarray(depth, dtype=np.float64).reshape(-1)
    faces = np.ascontiguousarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(uv) != len(z):
        raise ValueError(f"uv {uv.shape} and depth {z.shape} disagree on the vertex count")
    if faces.size and (faces.min() < 0 or faces.max() >= len(uv)):
        raise ValueError("faces index vertices that do not exist")
    ok = np.ones(len(faces), bool) if face_mask is None else np.ascontiguousarray(face_mask, dtype=bool)
    return uv, z, faces, ok


def _cull_sign(cull: str) -> float:
    # area > 0 means clockwise on screen for y-down pixels (counter-clockwise as seen by a y-up viewer)
    return {"none": 0.0, "ccw": -1.0, "cw": 1.0}[cull]


def rasterize_mesh(
    uv: np.ndarray,
    depth: np.ndarray,
    faces: np.ndarray,
    width: int,
    height: int,
    face_mask: np.ndarray | None = None,
    cull: str = "none",
    near: float = 1e-6,
    parallel: bool = False,
) -> MeshRaster:
    """Rasterize a projected triangle mesh with a z-buffer.

    Args:
        uv: ``(V, 2)`` projected vertex positions in pixels (``Camera.project``).
        depth: ``(V,)`` camera-space z of each vertex.
        faces: ``(F, 3)`` vertex indices.
        width, height: image size.
        face_mask: optional ``(F,) bool``; False triangles are not drawn.
        cull: ``"none"``; ``"cw"`` drops triangles whose on-screen (y-down) signed area is
            positive, ``"ccw"`` those where it is negative.
        near: triangles with any vertex at ``z <= near`` are skipped.
        parallel: use numba threads over bands of rows (leave False inside worker processes).

    Returns:
        :class:`MeshRaster` with ``tri_id (H, W)``, ``bary (H, W, 3)``, ``depth (H, W)``.
    """
    uv, z, faces, ok = _prepare(uv, depth, faces, face_mask)
    tri_id = np.full((height, width), _NO_TRIANGLE, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    zbuf = np.full((height, width), np.inf, np.float32)
    kernel = _raster_parallel if parallel else _raster_serial
    band_rows = 16 if parallel else height
    kernel(uv, z, faces, ok, _cull_sign(cull), float(near), int(height), int(width), tri_id, bary, zbuf,
           max(1, band_rows))
    return MeshRaster(tri_id, bary, zbuf)


def rasterize_mesh_reference(uv, depth, faces, width, height, face_mask=None, cull="none", near=1e-6) -> MeshRaster:
    """Plain-numpy twin of :func:`rasterize_mesh` (slow; for tests)."""
    uv, z, faces, ok = _prepare(uv, depth, faces, face_mask)
    sign = _cull_sign(cull)
    tri_id = np.full((height, width), _NO_TRIANGLE, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    zbuf = np.full((height, width), np.inf, np.float64)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    for f, (i0, i1, i2) in enumerate(faces):
        zz = z[[i0, i1, i2]]
        if not ok[f] or (zz <= near).any():
            continue
        (x0, y0), (x1, y1), (x2, y2) = uv[i0], uv[i1], uv[i2]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if abs(area) < 1e-12 or sign * area > 0:
            continue
        w0 = ((x2 - x1) * (rows - y1) - (y2 - y1) * (cols - x1)) / area
        w1 = ((x0 - x2) * (rows - y2) - (y0 - y2) * (cols - x2)) / area
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        q = np.stack([w0 / zz[0], w1 / zz[1], w2 / zz[2]], -1)
        d = 1.0 / q.sum(-1)
        win = inside & (d < zbuf)
        zbuf[win] = d[win]
        tri_id[win] = f
        bary[win] = (q * d[..., None])[win]
    return MeshRaster(tri_id, bary, zbuf.astype(np.float32))


@njit(cache=True, nogil=True)
def _interpolate_kernel(attr, faces, tri_id, bary, out):
    H, W = tri_id.shape
    C = attr.shape[1]
    for r in range(H):
        for c in range(W):
            f = tri_id[r, c]
            if f < 0:
                continue
            i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
            b0, b1, b2 = bary[r, c, 0], bary[r, c, 1], bary[r, c, 2]
            for k in range(C):
                out[r, c, k] = b0 * attr[i0, k] + b1 * attr[i1, k] + b2 * attr[i2, k]


def interpolate(attr: np.ndarray, faces: np.ndarray, raster: MeshRaster) -> np.ndarray:
    """Per-vertex attributes ``(V, C)`` to per-pixel ``(H, W, C) float32`` (0 where uncovered)."""
    attr = np.ascontiguousarray(attr, dtype=np.float32)
    squeeze = attr.ndim == 1
    attr2 = attr.reshape(len(attr), -1)
    out = np.zeros(raster.tri_id.shape + (attr2.shape[1],), np.float32)
    _interpolate_kernel(attr2, np.ascontiguousarray(faces, dtype=np.int64), raster.tri_id, raster.bary, out)
    return out[..., 0] if squeeze else out


def interpolate_reference(attr, faces, raster: MeshRaster) -> np.ndarray:
    """Plain-numpy twin of :func:`interpolate`."""
    attr = np.asarray(attr, np.float32)
    squeeze = attr.ndim == 1
    attr2 = attr.reshape(len(attr), -1)
    faces = np.asarray(faces, np.int64)
    tri = np.where(raster.covered, raster.tri_id, 0)
    corners = attr2[faces[tri]]  # (H, W, 3, C)
    out = (corners * raster.bary[..., None]).sum(-2)
    out[~raster.covered] = 0.0
    out = out.astype(np.float32)
    return out[..., 0] if squeeze else out


@njit(cache=True, nogil=True)
def _bilinear_kernel(image, uv, valid, out):
    H, W = valid.shape
    Hi, Wi, C = image.shape
    for r in range(H):
        for c in range(W):
            if not valid[r, c]:
                continue
            x = uv[r, c, 0] - 0.5
            y = uv[r, c, 1] - 0.5
            x = min(max(x, 0.0), Wi - 1.0)
            y = min(max(y, 0.0), Hi - 1.0)
            x0 = min(int(x), Wi - 2) if Wi > 1 else 0
            y0 = min(int(y), Hi - 2) if Hi > 1 else 0
            x1 = min(x0 + 1, Wi - 1)
            y1 = min(y0 + 1, Hi - 1)
            fx = x - x0
            fy = y - y0
            for k in range(C):
                top = image[y0, x0, k] * (1.0 - fx) + image[y0, x1, k] * fx
                bot = image[y1, x0, k] * (1.0 - fx) + image[y1, x1, k] * fx
                out[r, c, k] = top * (1.0 - fy) + bot * fy


def sample_bilinear(image: np.ndarray, uv: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Read ``image (Hi, Wi, C)`` at pixel coordinates ``uv (H, W, 2)`` (x, y; centres at +0.5).

    Coordinates outside the image clamp to its border.  Pixels where ``valid``
    ``(H, W) bool`` is False are 0.  Returns ``(H, W, C) float32``.
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    uv = np.ascontiguousarray(uv, dtype=np.float32)
    if valid is None:
        valid = np.ones(uv.shape[:2], bool)
    out = np.zeros(uv.shape[:2] + (img.shape[2],), np.float32)
    _bilinear_kernel(img, uv, np.ascontiguousarray(valid, dtype=np.bool_), out)
    return out[..., 0] if squeeze else out


def sample_bilinear_reference(image, uv, valid=None) -> np.ndarray:
    """Plain-numpy twin of :func:`sample_bilinear`."""
    img = np.asarray(image, np.float32)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    Hi, Wi = img.shape[:2]
    x = np.clip(uv[..., 0] - 0.5, 0, Wi - 1)
    y = np.clip(uv[..., 1] - 0.5, 0, Hi - 1)
    x0 = np.minimum(x.astype(int), max(Wi - 2, 0))
    y0 = np.minimum(y.astype(int), max(Hi - 2, 0))
    x1, y1 = np.minimum(x0 + 1, Wi - 1), np.minimum(y0 + 1, Hi - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    out = (img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy) + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy
    if valid is not None:
        out[~valid] = 0
    out = out.astype(np.float32)
    return out[..., 0] if squeeze else out
