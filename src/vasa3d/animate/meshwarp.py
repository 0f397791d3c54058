"""The default portrait animator: the fitted head mesh, textured from the photo, re-rendered.

This stands in for VASA-1's decoder (paper, section 3.3): given the portrait,
a motion latent and a camera it makes one frame and its foreground mask.

How a frame is made (:meth:`MeshWarpAnimator.__call__`):

1. The head model poses the fitted mesh with the latent (expression, jaw,
   gaze, head pose) and the camera projects it.
2. The z-buffer (:mod:`vasa3d.animate.raster`) finds the surface seen at each
   pixel.  Every surface point has a *texture coordinate*: where it projects in
   the portrait at the fitted pose.  A point that the portrait shows (in front
   in the portrait's own z-buffer, facing its camera, inside the person mask)
   takes the portrait's colour there.
3. A point the portrait does not show takes the colour of its mirror image
   on the other side of the face when that one is shown (the far cheek at
   large yaw), and otherwise a colour diffused over the mesh from the shown
   points (back of the head, under the chin).
4. The inner mouth (cavity, teeth, tongue) and the eyes (sclera, the
   portrait's iris moved with gaze) are painted where the mesh shows them;
   eyelids close over the eyes because the blink shapes move the lid
   vertices, which carry the lid skin above the eye.
5. Behind the head: the portrait's background with the person inpainted,
   and the body layer (hair outside the mesh, neck, shoulders) moved by a
   smooth field spread from the mesh's motion, so it stays attached.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
import torch
from numba import njit
from scipy import sparse
from scipy.spatial import cKDTree

from vasa3d.animate.detail import hair_detail
from vasa3d.animate.eyes import EyeAppearance, draw_eye, eye_appearance
from vasa3d.animate.layers import PortraitLayers, body_flow, make_layers
from vasa3d.animate.mouth import MouthStyle, draw_mouth
from vasa3d.animate.raster import interpolate, rasterize_mesh, sample_bilinear
from vasa3d.head.builtin import NAPE_TOP, NECK_HEIGHTS
from vasa3d.head.fit import latent_from_params
from vasa3d.render.camera import Camera

__all__ = ["MeshWarpConfig", "MeshWarpAnimator"]

# mediapipe face-mesh contours (subject's right eye first, then left; right mouth corner to left)
EYE_CONTOURS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249),
)
IRISES = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))
INNER_LIP_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LIP_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

#: values of ``render()["kind"]``: no head, portrait texel, mirrored texel, diffused fill
KIND_NONE, KIND_DIRECT, KIND_MIRROR, KIND_FILL = 0, 1, 2, 3


@dataclass
class MeshWarpConfig:
    """Settings of the mesh-warp animator."""

    visibility_tolerance_m: float = 0.006
    """a surface point counts as shown in the portrait when it is within this depth of the portrait's z-buffer"""
    min_facing: float = 0.3
    """a texel is used sharp when the portrait saw it at least this many times as squarely as the frame does"""
    mirror_facing: float = 1.0
    """the mirror point's texel takes a share of a point as far as the portrait saw the point less than this many
    times as squarely as the frame does (and the mirror point more): the side a turn shows that the portrait saw
    at a slant (its far cheek) is drawn from the side it saw squarely. At 0.3, the value of ``min_facing``, that
    happened only where the texel was already blurred; at 1.0 the weak side's views at +-30 degrees come out
    up to 0.05 nearer the portrait in dlib's identity distance (docs/training.md)"""
    neck_fade_m: tuple[float, float] = (-0.07, -0.13)
    """the neck mesh is opaque above the first height (metres, head frame) and gone below the second"""
    body_neck_top_m: float = 0.5 * (NECK_HEIGHTS[0] + NAPE_TOP)
    """the body layer goes on behind the neck mesh only where the neck lies below this height (metres, head
    frame; between the tube's top ring and the nape's): above it (the built-in head's nape, behind the jaw and
    the ears) the neck turns with the head, and what a turn uncovers there is the wall"""
    inner_depth_bias_m: float = 0.02
    """the inside of the mouth is drawn as if this much farther away (eyeballs a quarter of it)"""
    hair_detail: float = 1.0
    """strength of the portrait's hair texture laid over the hair the portrait does not show (0: smooth fill)"""
    stretch_blur: float = 0.008
    """blur (fraction of the image size) of the portrait that stretched texels fade into"""
    edge_margin: tuple[float, float] = (0.003, 0.008)
    """texels this close (fraction of the image size) to the portrait's person outline are not used, and are fully
    trusted beyond the second distance: there the colour is half background, which stretches into lines"""
    body_flow_sigma: float = 0.06
    """smoothness of the body layer's motion field, as a fraction of the image size"""
    background: str = "keep"
    """'keep' the portrait's background (person inpainted) or 'black'"""
    mouth: MouthStyle = field(default_factory=MouthStyle)


def _vertex_normals(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    n = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    idx = F.reshape(-1)
    vn = np.stack([np.bincount(idx, np.repeat(n[:, k], 3), minlength=len(V)) for k in range(3)], 1)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


#: the fading neck is drawn whole over the wall down to this far below the end of its fade (metres): the neck
#: goes on into the collar
NECK_LIFT_BELOW_FADE_M = 0.04

#: seen from the skull centre, points more than this from the top of the head (the jaw's corner and below),
#: in front of the centre, are the jaw's underside and the throat
UNDER_JAW_DEG = 135.0


def _under_jaw(V: np.ndarray) -> np.ndarray:
    """``(V,)`` bool: canonical points under the jaw (:data:`UNDER_JAW_DEG`); hair hanging beside the jaw's
    corner above them stays hair."""
    from vasa3d.head.builtin import SKULL_CENTRE
    from vasa3d.head.shape_basis import angle_from_top

    return (angle_from_top(V) > UNDER_JAW_DEG) & (V[:, 2] - SKULL_CENTRE[2] > -0.01)


def _diffuse_colours(colour: np.ndarray, known: np.ndarray, faces: np.ndarray, groups: list[np.ndarray],
                     iterations: int = 400) -> np.ndarray:
    """Fill unknown vertex colours by repeated neighbour averaging over the mesh (known ones fixed).

    Each of ``groups`` (vertex masks) is filled only from its own known vertices, over the
    edges inside it (hair fills the back of the head, not the face's skin); vertices in no
    group with a known vertex fall back to the whole mesh.
    """
    out = _diffuse(colour, known, faces, iterations)
    for g in groups:
        if (g & known).sum() >= 3:
            inner = faces[g[faces].all(1)]
            filled = _diffuse(colour, known & g, inner, iterations)
            out[g & ~known] = filled[g & ~known]
    return out


def _diffuse(colour: np.ndarray, known: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    V = len(colour)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    A = sparse.coo_matrix((np.ones(len(e) * 2), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(V, V)).tocsr()
    A.data[:] = 1.0
    deg = np.asarray(A.sum(1)).ravel()
    P = sparse.diags(1.0 / np.maximum(deg, 1)) @ A
    c = colour.copy()
    c[~known] = colour[known].mean(0) if known.any() else 0.5
    for _ in range(iterations):
        c[~known] = (P @ c)[~known]
    return c


@njit(cache=True, nogil=True)
def _bilinear1(img, x, y):
    H, W = img.shape[0], img.shape[1]
    x = min(max(x - 0.5, 0.0), W - 1.0)
    y = min(max(y - 0.5, 0.0), H - 1.0)
    x0 = min(int(x), W - 2)
    y0 = min(int(y), H - 2)
    fx = x - x0
    fy = y - y0
    return (img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx) * (1 - fy) + \
        (img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx) * fy


@njit(cache=True, nogil=True)
def _sample3(img, x, y):
    """Bilinear RGB of ``img (H, W, 3)`` at pixel coordinates (centres at +0.5), clamped."""
    H, W = img.shape[0], img.shape[1]
    x = min(max(x - 0.5, 0.0), W - 1.0)
    y = min(max(y - 0.5, 0.0), H - 1.0)
    x0 = min(int(x), W - 2)
    y0 = min(int(y), H - 2)
    fx = x - x0
    fy = y - y0
    w00 = (1 - fx) * (1 - fy)
    w01 = fx * (1 - fy)
    w10 = (1 - fx) * fy
    w11 = fx * fy
    r = img[y0, x0, 0] * w00 + img[y0, x0 + 1, 0] * w01 + img[y0 + 1, x0, 0] * w10 + img[y0 + 1, x0 + 1, 0] * w11
    g = img[y0, x0, 1] * w00 + img[y0, x0 + 1, 1] * w01 + img[y0 + 1, x0, 1] * w10 + img[y0 + 1, x0 + 1, 1] * w11
    b = img[y0, x0, 2] * w00 + img[y0, x0 + 1, 2] * w01 + img[y0 + 1, x0, 2] * w10 + img[y0 + 1, x0 + 1, 2] * w11
    return r, g, b


@njit(cache=True, nogil=True)
def _mirror_tile(u, n):
    """Coordinate ``u`` folded into [0, n) by mirrored repetition (continuous, no seams)."""
    period = 2.0 * n
    u = u - np.floor(u / period) * period
    return u if u < n else period - u


@njit(cache=True, nogil=True)
def _triplanar(detail, canon, i0, i1, i2, b0, b1, b2, px_per_m):
    """``detail`` sampled at the surface point: one projection per axis, blended by the normal."""
    px = (b0 * canon[i0, 0] + b1 * canon[i1, 0] + b2 * canon[i2, 0]) * px_per_m
    py = (b0 * canon[i0, 1] + b1 * canon[i1, 1] + b2 * canon[i2, 1]) * px_per_m
    pz = (b0 * canon[i0, 2] + b1 * canon[i1, 2] + b2 * canon[i2, 2]) * px_per_m
    nx = b0 * canon[i0, 3] + b1 * canon[i1, 3] + b2 * canon[i2, 3]
    ny = b0 * canon[i0, 4] + b1 * canon[i1, 4] + b2 * canon[i2, 4]
    nz = b0 * canon[i0, 5] + b1 * canon[i1, 5] + b2 * canon[i2, 5]
    wx, wy, wz = nx * nx, ny * ny, nz * nz
    total = wx + wy + wz
    if total <= 0.0:
        return 0.0
    H, W = detail.shape[0], detail.shape[1]
    # image rows run down: use -y so that hair strands keep their direction
    v = (_bilinear1(detail, _mirror_tile(pz, W), _mirror_tile(-py, H)) * wx
         + _bilinear1(detail, _mirror_tile(px, W), _mirror_tile(pz, H)) * wy
         + _bilinear1(detail, _mirror_tile(px, W), _mirror_tile(-py, H)) * wz)
    return v / total


def texel_trust(mask: np.ndarray, margin_px: tuple[float, float]) -> np.ndarray:
    """``(S, S) float32`` in [0, 1]: how far each portrait pixel's colour can be taken as the person's own.

    0 outside the person (``mask (S, S)`` below 0.5) and within ``margin_px[0]`` pixels of its outline,
    1 beyond ``margin_px[1]``: at the outline a pixel is half background, and the side of the neck or
    the jaw seen there at a grazing angle stretches it into a pale line as the head turns.
    """
    from scipy.ndimage import distance_transform_edt

    fg = mask >= 0.5
    dist = distance_transform_edt(fg)
    lo, hi = margin_px
    return np.ascontiguousarray(np.clip((dist - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32))


@njit(cache=True, nogil=True)
def _shown(zbuf, pmask, u, v, z, tol):
    """Whether the surface point at portrait pixel (u, v) with depth z is what the portrait shows there."""
    S = zbuf.shape[0]
    c = int(u)
    r = int(v)
    if c < 0 or r < 0 or c >= S or r >= S:
        return False
    zmax = -1.0
    for dr in range(-1, 2):
        for dc in range(-1, 2):
            rr = min(max(r + dr, 0), S - 1)
            cc = min(max(c + dc, 0), S - 1)
            zb = zbuf[rr, cc]
            if zb < np.inf and zb > zmax:
                zmax = zb
    if zmax < 0 or z > zmax + tol:
        return False
    return _bilinear1(pmask, u, v) >= 0.5


@njit(cache=True, nogil=True)
def _shade(tri_id, bary, faces, attr, facing1, portrait, blurred, trust, min_facing, mirror_facing, canon, detail,
           px_per_m, out, kind):
    """Colour every covered pixel from the portrait's texel, its mirror's texel, or the diffused colour.

    attr columns: 0-1 uv0, 2 shown0 (1 where the portrait shows the vertex), 3 facing0,
    4-5 uv of the mirror vertex, 6 its shown0, 7 its facing0, 8-10 diffused colour;
    facing1 ``(V,)`` how squarely each vertex faces the current camera.

    A shown texel is used sharp when the portrait saw it at least ``min_facing`` times as
    squarely as this view does; below that it fades into the same place of the blurred
    portrait (a stretched texel shows as soft colour, never as streaks).  Below ``mirror_facing``
    times as squarely the mirror point's texel takes over, as far as the portrait saw that one
    at least ``mirror_facing`` times as squarely.  Points the portrait does not show take their
    mirror point's texel, else the diffused colour.
    """
    H, W = tri_id.shape
    a = np.empty(11, np.float32)
    for r in range(H):
        for c in range(W):
            f = tri_id[r, c]
            if f < 0:
                continue
            i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
            b0, b1, b2 = bary[r, c, 0], bary[r, c, 1], bary[r, c, 2]
            for k in range(11):
                a[k] = b0 * attr[i0, k] + b1 * attr[i1, k] + b2 * attr[i2, k]
            f1 = b0 * facing1[i0] + b1 * facing1[i1] + b2 * facing1[i2]
            need = min_facing * max(f1, 1e-3)
            need_mir = mirror_facing * max(f1, 1e-3)
            s_own = 0.0
            s_mir = 0.0
            if a[2] > 0.0 and a[3] > 0.0:
                s_own = a[2] * _bilinear1(trust, a[0], a[1]) * min(1.0, a[3] / 0.05)
            if a[6] > 0.0 and a[7] > 0.0:
                s_mir = a[6] * _bilinear1(trust, a[4], a[5]) * min(1.0, a[7] / 0.05)
            q_own = min(1.0, a[3] / need)
            q_take = min(1.0, a[3] / need_mir)
            q_mir = min(1.0, a[7] / need_mir)
            # the mirror texel steps in where the own texel was seen more obliquely than this view sees it
            # (the temple and the side of the cheek at a turn): stretched, the own texel smears into streaks
            w_own = s_own * max(q_take, 0.05)
            w_mir = s_mir * q_mir * (1.0 - q_take) if s_mir > 0.0 else 0.0
            shown = max(s_own, s_mir) if w_own + w_mir > 0.0 else 0.0
            shade = 0.8 + 0.2 * min(1.0, max(0.0, f1))  # unseen parts get a little form from the view
            cr, cg, cb = a[8] * shade, a[9] * shade, a[10] * shade
            hair = b0 * canon[i0, 6] + b1 * canon[i1, 6] + b2 * canon[i2, 6]
            if hair > 0.0 and shown < 1.0:
                d = hair * _triplanar(detail, canon, i0, i1, i2, b0, b1, b2, px_per_m)
                cr += d
                cg += d
                cb += d
            if shown > 0.0:
                tr, tg, tb = 0.0, 0.0, 0.0
                for src, w, q in ((0, w_own, q_own), (4, w_mir, q_mir)):
                    if w <= 0.0:
                        continue
                    # a stretched texel fades into the same place of the blurred portrait
                    pr, pg, pb = _sample3(portrait, a[src], a[src + 1])
                    br, bg, bb = _sample3(blurred, a[src], a[src + 1])
                    k = w / (w_own + w_mir)
                    tr += k * (q * pr + (1.0 - q) * br)
                    tg += k * (q * pg + (1.0 - q) * bg)
                    tb += k * (q * pb + (1.0 - q) * bb)
                cr = shown * tr + (1.0 - shown) * cr
                cg = shown * tg + (1.0 - shown) * cg
                cb = shown * tb + (1.0 - shown) * cb
            out[r, c, 0] = cr
            out[r, c, 1] = cg
            out[r, c, 2] = cb
            if shown >= 0.5:
                kind[r, c] = 1 if w_own >= w_mir else 2
            else:
                kind[r, c] = 3


@njit(cache=True, nogil=True)
def _composite(mesh_rgb, head_alpha, lift, flow, body, body_alpha, background, scale, out_rgb, out_mask):
    """Background (already at the output size), then the moved body layer, then the head; to uint8.

    ``head_alpha (H, W)``: 1 inside the head, fractional on its rim (antialiasing) and where the neck fades
    into the body, 0 outside. ``lift (H, W)`` in [0, 1]: how much of the background that the head and the
    body leave showing the fading neck covers instead (the side of the neck a turn uncovers, over the wall).
    """
    H, W = head_alpha.shape
    for r in range(H):
        for c in range(W):
            h = head_alpha[r, c]
            if h >= 1.0:
                for ch in range(3):
                    out_rgb[r, c, ch] = np.uint8(min(255.0, max(0.0, mesh_rgb[r, c, ch] * 255.0 + 0.5)))
                out_mask[r, c] = 1.0
                continue
            bx = (c + 0.5 + flow[r, c, 0]) * scale
            by = (r + 0.5 + flow[r, c, 1]) * scale
            a = _bilinear1(body_alpha, bx, by)
            vr, vg, vb = background[r, c, 0], background[r, c, 1], background[r, c, 2]
            # where the fading neck shows, it takes over the share lift of the background left showing
            k = lift[r, c]
            if k > 0.0:
                vr += k * (mesh_rgb[r, c, 0] - vr)
                vg += k * (mesh_rgb[r, c, 1] - vg)
                vb += k * (mesh_rgb[r, c, 2] - vb)
            if a > 0.0:
                br, bg, bb = _sample3(body, bx, by)
                vr = vr * (1 - a) + br * a
                vg = vg * (1 - a) + bg * a
                vb = vb * (1 - a) + bb * a
            if h > 0.0:
                vr = vr * (1 - h) + mesh_rgb[r, c, 0] * h
                vg = vg * (1 - h) + mesh_rgb[r, c, 1] * h
                vb = vb * (1 - h) + mesh_rgb[r, c, 2] * h
            a = a * (1 - h) + h + k * (1 - a) * (1 - h)
            out_rgb[r, c, 0] = np.uint8(min(255.0, max(0.0, vr * 255.0 + 0.5)))
            out_rgb[r, c, 1] = np.uint8(min(255.0, max(0.0, vg * 255.0 + 0.5)))
            out_rgb[r, c, 2] = np.uint8(min(255.0, max(0.0, vb * 255.0 + 0.5)))
            out_mask[r, c] = a


@contextmanager
def _one_thread():
    """Evaluate the (small) head model on one thread: thread start-up costs more than it saves here."""
    n = torch.get_num_threads()
    if n > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n > 1:
            torch.set_num_threads(n)


class MeshWarpAnimator:
    """``animator(z_dyn (52,), z_pose (7,), camera) -> (rgb (H, W, 3) uint8, mask (H, W) float32)``.

    Built once per portrait from the face analysis, the fitted head and the head model.
    ``portrait_latent`` is the latent that reproduces the portrait itself.
    """

    name = "meshwarp"

    def __init__(self, analysis, fit, head, config: MeshWarpConfig | None = None) -> None:
        from vasa3d.head import REGIONS

        self.config = cfg = config or MeshWarpConfig()
        self.head = head.eval()
        self.camera: Camera = fit.camera
        S = analysis.size
        self.size = S
        self.portrait = np.ascontiguousarray(analysis.image.astype(np.float32) / 255.0)
        self.portrait_mask = np.ascontiguousarray(np.clip(analysis.mask, 0, 1).astype(np.float32))
        sigma = cfg.stretch_blur * S
        # normalised by the blurred mask: the blur of the person never takes in the background's colour
        m = (self.portrait_mask >= 0.5).astype(np.float32)
        num = cv2.GaussianBlur(self.portrait * m[..., None], (0, 0), sigma, sigma)
        den = cv2.GaussianBlur(m, (0, 0), sigma, sigma)[..., None]
        self.portrait_blurred = np.ascontiguousarray(
            np.where(den > 1e-3, num / np.maximum(den, 1e-3), self.portrait).astype(np.float32))
        self.shape = fit.params.shape.detach().reshape(1, -1)
        self.faces = np.ascontiguousarray(head.faces.cpu().numpy().astype(np.int64))
        region_id = {name: i for i, name in enumerate(getattr(head, "regions", REGIONS))}
        self.face_region = head.face_regions.cpu().numpy()
        self._r_mouth = region_id.get("mouth_interior", -3)  # -3: a model without it
        self._r_eyeball = region_id.get("eyeballs", -3)
        self._skin_regions = np.array([region_id[n] for n in ("face", "lips", "eyes") if n in region_id] + [-2])
        self.landmark_vertices = head.landmark_vertices.cpu().numpy()

        with torch.no_grad():
            V0 = head(fit.params)[0].cpu().numpy().astype(np.float64)
            neutral = self._params(torch.zeros(1, 52), torch.zeros(1, 7))
            Vc = head(neutral)[0].cpu().numpy().astype(np.float64)
        self.portrait_latent = latent_from_params(fit.params)
        uv0, z0 = (t.numpy().astype(np.float64) for t in fit.camera.project(torch.from_numpy(V0).float()))
        R0 = rasterize_mesh(uv0, z0, self.faces, S, S)
        self.zbuf0 = np.ascontiguousarray(R0.depth)
        self.texel_trust = texel_trust(self.portrait_mask, (cfg.edge_margin[0] * S, cfg.edge_margin[1] * S))

        self._winding = 1.0
        facing = self._facing(V0, fit.camera)
        if np.median(facing[self.landmark_vertices[:468]]) < 0:  # inward-wound mesh
            self._winding = -1.0
            facing = -facing
        mirror = cKDTree(Vc).query(Vc * np.array([-1.0, 1.0, 1.0]))[1]

        # a vertex's own colour: its portrait texel when shown, else its mirror's, else diffused
        depth_shown = np.array([self._vertex_shown(u, v, z) for (u, v), z in zip(uv0, z0)])
        trusted = sample_bilinear(self.texel_trust, uv0[None].astype(np.float32))[0]
        shown = depth_shown & (facing > 0.25) & (trusted >= 0.5)
        colour = self._sample(uv0)
        mirror_shown = shown[mirror] & ~shown
        colour[mirror_shown] = colour[mirror[mirror_shown]]
        known = shown | mirror_shown
        vregion = head.vertex_regions.cpu().numpy()
        special = (vregion == self._r_mouth) | (vregion == self._r_eyeball)
        groups = [np.isin(vregion, [region_id[n] for n in names if n in region_id]) for names in
                  (("face", "lips", "eyes"), ("scalp", "ears"), ("neck",))]
        # the skin under the jaw (the scalp's rings grown from the chin) is filled from the face across the jaw
        # line, not from the hair: with the hair shell far more of the scalp is hair the photo shows, and
        # filled from it the underside of the jaw came out as a dark band along the jaw line. Nor from the
        # neck: no triangle joins it to the neck's tube, so it took one flat colour, the mean of the neck's
        # shown texels with the collar's among them (grey, or white under a white collar), seen as a band
        # along the jaw of a turned head
        under = groups[1] & _under_jaw(Vc)
        groups[1] &= ~under
        groups[0] |= under
        colour = _diffuse_colours(colour, known & ~special, self.faces, groups)
        colour[vregion == self._r_mouth] = np.asarray(cfg.mouth.cavity)

        # the inside of the mouth is always painted (portrait texels there stretch badly as the jaw opens)
        vis = (depth_shown & (vregion != self._r_mouth)).astype(np.float64)[:, None]
        self.attr = np.ascontiguousarray(np.concatenate([
            uv0, vis, facing[:, None], uv0[mirror], vis[mirror], facing[mirror][:, None], colour,
        ], 1).astype(np.float32))
        # the neck belongs to the body layer (with the real neck and collar pixels); the neck mesh
        # fades into it downward, so the head stays joined to the body without a seam
        r_neck = region_id.get("neck", -1)
        head_only = rasterize_mesh(uv0, z0, self.faces, S, S, face_mask=self.face_region != r_neck).covered
        behind = None
        if getattr(head, "n_hair", 0):
            # the hair shell carries the hair: what a turning head uncovers above its neck is the wall behind
            # it (the body continued there too, as a pale ghost of the head that the avatar learned as smears
            # and patches beside the turned face); behind the jaw the neck goes on
            low = (Vc[self.faces, 1] <= cfg.body_neck_top_m).all(axis=1)
            neck = rasterize_mesh(uv0, z0, self.faces, S, S, face_mask=(self.face_region == r_neck) & low).covered
            grown = cv2.dilate(neck.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, S // 128))
            behind = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), max(1.0, S / 256))
        self.layers: PortraitLayers = make_layers(analysis.image, self.portrait_mask, head_only, behind)
        y = Vc[:, 1]
        fade = np.clip((y - cfg.neck_fade_m[1]) / (cfg.neck_fade_m[0] - cfg.neck_fade_m[1]), 0, 1)
        # per vertex: opacity (the neck fades out downward), and the lift that draws the fading neck whole where
        # nothing of the body lies behind it (faded over the wall, the side of the neck a turn uncovers came out
        # as a pale grey strip beside the neck); one interpolation per frame gives both
        lift = (vregion == r_neck) & (y > cfg.neck_fade_m[1] - NECK_LIFT_BELOW_FADE_M)
        self._opacity_lift = np.stack([np.where(vregion == r_neck, fade, 1.0), lift], 1).astype(np.float32)
        if cfg.background == "black":
            self.layers.background[:] = 0.0
        self._backgrounds: dict[tuple[int, int], np.ndarray] = {}
        self._depth_bias = np.where(vregion == self._r_mouth, cfg.inner_depth_bias_m,
                                    np.where(vregion == self._r_eyeball, 0.25 * cfg.inner_depth_bias_m, 0.0))
        lm = analysis.landmarks[:, :2].astype(np.float64)
        self.eyes: list[EyeAppearance] = [
            eye_appearance(analysis.image, lm[list(c)], lm[list(i)]) for c, i in zip(EYE_CONTOURS, IRISES)
        ]
        # the fit's residual at the irises: where the portrait's iris is relative to the mesh's iris vertex
        self._iris_offset = [lm[i[0]] - uv0[self.landmark_vertices[i[0]]] for i in IRISES]
        self._uv0 = uv0
        # the body layer is attached to what the portrait shows of the head
        self._flow_weight = (depth_shown | (np.abs(facing) < 0.3)).astype(np.float64)
        # hair detail for the parts of the hair the portrait does not show
        hairy = (vregion == region_id.get("scalp", -1)) & ~under  # the jaw's underside is skin
        self._detail = hair_detail(self.portrait, self.portrait_mask, uv0[hairy & shown & (facing > 0.5)],
                                   cfg.hair_detail)
        self._px_per_m = float(fit.camera.K[0, 0]) / float(fit.camera.position.norm())
        self._canon = np.ascontiguousarray(np.concatenate(
            [Vc, _vertex_normals(Vc, self.faces) * self._winding, hairy[:, None]], 1).astype(np.float32))

    # ------------------------------------------------------------------ helpers
    def _params(self, z_dyn: torch.Tensor, z_pose: torch.Tensor):
        from vasa3d.head import params_from_latent

        return params_from_latent(z_dyn, z_pose, self.shape)

    def _background(self, width: int, height: int) -> np.ndarray:
        """The background layer resampled to an output size (cached per size)."""
        key = (width, height)
        if key not in self._backgrounds:
            bg = self.layers.background
            if bg.shape[:2] != (height, width):
                bg = cv2.resize(bg, (width, height), interpolation=cv2.INTER_AREA)
            self._backgrounds[key] = np.ascontiguousarray(bg, dtype=np.float32)
        return self._backgrounds[key]

    def _facing(self, V: np.ndarray, camera: Camera) -> np.ndarray:
        """``(V,) float32`` cosine between each vertex normal and the direction to the camera."""
        normals = _vertex_normals(V, self.faces)
        view = camera.position.numpy().astype(np.float64)[None] - V
        view /= np.linalg.norm(view, axis=1, keepdims=True)
        return (self._winding * np.einsum("ij,ij->i", normals, view)).astype(np.float32)

    def _vertex_shown(self, u: float, v: float, z: float) -> bool:
        return bool(_shown(self.zbuf0, self.portrait_mask, u, v, z, self.config.visibility_tolerance_m))

    def _sample(self, uv: np.ndarray) -> np.ndarray:
        from vasa3d.animate.raster import sample_bilinear

        return sample_bilinear(self.portrait, uv[None].astype(np.float32))[0].astype(np.float64)

    def vertices(self, z_dyn, z_pose) -> torch.Tensor:
        """World vertices ``(V, 3)`` of the head posed by one latent.

        The head lands exactly where :func:`vasa3d.head.params_from_latent` puts it,
        but turns on the neck joint instead of about its centre, so that the base of
        the neck stays on the shoulders (the head is then shifted back onto its place).
        """
        zd = torch.as_tensor(np.asarray(z_dyn, np.float32)).reshape(1, -1)
        zp = torch.as_tensor(np.asarray(z_pose, np.float32)).reshape(1, -1)
        with torch.no_grad(), _one_thread():
            params = self._params(zd, zp)
            if not bool(params.rotation.abs().max() > 0):
                return self.head(params)[0]
            on_neck = params.replace(neck=params.neck + params.rotation, rotation=torch.zeros_like(params.rotation))
            V = self.head(on_neck)[0]
            face = self.landmark_vertices[:468]
            target = self.head(params, vertex_ids=torch.as_tensor(face))[0]
            return V + (target - V[face]).mean(0)

    # ------------------------------------------------------------------ a frame
    def render(self, z_dyn, z_pose, camera: Camera | None = None) -> dict[str, np.ndarray]:
        """One frame with its by-products: ``rgb``, ``mask``, ``covered`` (head silhouette),
        ``kind`` (0 none, 1 portrait texel, 2 mirrored texel, 3 diffused colour; per pixel),
        ``mouth`` and ``eyes`` (painted pixels).

        The latent's log-scale (head distance) is a zoom of the whole frame about the head centre's
        image: a camera that comes nearer sees the shoulders and background grow with the head.
        """
        cam = camera or self.camera
        zp = np.asarray(z_pose, np.float32).reshape(-1)
        if len(zp) > 6 and zp[6] != 0:
            flat = zp.copy()
            flat[6] = 0.0
            out = self.render(z_dyn, flat, cam)
            centre = cam.project(torch.as_tensor(zp[None, 3:6]))[0].numpy().reshape(2)
            return _zoom(out, float(np.exp(zp[6])), centre)
        H, W = cam.height, cam.width
        cfg = self.config
        V1 = self.vertices(z_dyn, z_pose)
        uv1, z1 = (t.numpy().astype(np.float64) for t in cam.project(V1))
        # inner parts lose every depth tie with the skin: where the jaw or the eyeball pokes
        # through the skin it stays hidden, inside the mouth and eye openings it shows
        R1 = rasterize_mesh(uv1, z1 + self._depth_bias, self.faces, W, H)
        mesh_rgb = np.zeros((H, W, 3), np.float32)
        kind = np.zeros((H, W), np.int8)
        facing1 = self._facing(V1.numpy().astype(np.float64), cam)
        _shade(R1.tri_id, R1.bary, self.faces, self.attr, facing1, self.portrait, self.portrait_blurred,
               self.texel_trust, float(cfg.min_facing), float(cfg.mirror_facing), self._canon, self._detail,
               self._px_per_m, mesh_rgb, kind)

        lmv = self.landmark_vertices
        # which region shows at each pixel, only around the mouth and eyes (the rest never needs it)
        feature_uv = uv1[lmv[list(INNER_LIP_UPPER + INNER_LIP_LOWER + EYE_CONTOURS[0] + EYE_CONTOURS[1])]]
        x0, y0 = np.clip(np.floor(feature_uv.min(0)).astype(int) - 2, 0, [W, H])
        x1, y1 = np.clip(np.ceil(feature_uv.max(0)).astype(int) + 3, 0, [W, H])
        region = np.full((H, W), -2, np.int64)
        tri = R1.tri_id[y0:y1, x0:x1]
        region[y0:y1, x0:x1] = np.where(tri >= 0, self.face_region[np.maximum(tri, 0)], -1)
        # inside the lip and eyelid contours, whatever is not facial skin is the inside of the mouth or the eye
        inner = ~np.isin(region, self._skin_regions)
        mouth_allowed = inner
        mouth = draw_mouth(mesh_rgb, uv1[lmv[list(INNER_LIP_UPPER)]], uv1[lmv[list(INNER_LIP_LOWER)]],
                           mouth_allowed, cfg.mouth)
        eye_allowed = inner
        eyes = np.zeros((H, W), bool)
        for contour, iris, app, offset in zip(EYE_CONTOURS, IRISES, self.eyes, self._iris_offset):
            c_uv = uv1[lmv[list(contour)]]
            # pixels per portrait pixel near this eye, from the eye's width now and in the portrait
            scale = float(np.linalg.norm(c_uv[0] - c_uv[8]) /
                          max(np.linalg.norm(self._uv0[lmv[contour[0]]] - self._uv0[lmv[contour[8]]]), 1e-6))
            centre = uv1[lmv[iris[0]]] + offset * scale
            eyes |= draw_eye(mesh_rgb, c_uv, centre, scale, app, self.portrait, eye_allowed)
        covered = R1.covered | mouth | eyes

        # the body layer follows the visible mesh
        scale_px = self.size / W
        disp = self._uv0 / scale_px - uv1
        flow = body_flow(uv1, disp, self._flow_weight, W, H, cfg.body_flow_sigma)
        rgb = np.zeros((H, W, 3), np.uint8)
        mask = np.zeros((H, W), np.float32)
        # soften the head's rim: inner rim pixels mix with what is behind them
        rim = cv2.blur(covered.astype(np.float32), (3, 3))
        rim[~covered] = 0.0
        opacity_lift = interpolate(self._opacity_lift, self.faces, R1)  # 0 where R1 does not cover
        head_alpha = rim * np.where(R1.covered, opacity_lift[..., 0], 1.0)
        lift = np.ascontiguousarray(opacity_lift[..., 1] * rim)
        _composite(mesh_rgb, head_alpha, lift, flow, self.layers.body, self.layers.body_alpha, self._background(W, H),
                   float(scale_px), rgb, mask)
        return {"rgb": rgb, "mask": mask, "covered": covered, "kind": kind, "mouth": mouth, "eyes": eyes}

    def __call__(self, z_dyn, z_pose, camera: Camera | None = None) -> tuple[np.ndarray, np.ndarray]:
        out = self.render(z_dyn, z_pose, camera)
        return out["rgb"], out["mask"]

    def describe(self) -> dict:
        """JSON description (for a dataset manifest)."""
        cfg = asdict(self.config)
        return {"animator": self.name, "config": cfg, "size": self.size}


def _zoom(frame: dict[str, np.ndarray], k: float, centre: np.ndarray) -> dict[str, np.ndarray]:
    """Every image of a rendered frame magnified ``k`` times about pixel ``centre (x, y)``; what comes in
    from beyond the frame's edge repeats the edge (the body continues below the frame)."""
    M = np.array([[k, 0.0, (1.0 - k) * centre[0]], [0.0, k, (1.0 - k) * centre[1]]])
    out = {}
    for key, img in frame.items():
        h, w = img.shape[:2]
        smooth = key in ("rgb", "mask")
        src = img if smooth else img.astype(np.uint8)
        # pixel centres sit at +0.5 in the project() convention; cv2 maps integer pixel indices
        shift = np.array([[0.0, 0.0, 0.5 * (k - 1.0)], [0.0, 0.0, 0.5 * (k - 1.0)]])
        z = cv2.warpAffine(src, M + shift, (w, h), flags=cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REPLICATE)
        out[key] = z.astype(img.dtype) if not smooth else z
    return out
