"""The built-in head: mediapipe's 468-point face grown into a whole, rigged head.

Everything is generated procedurally from one shipped file, the mean-face
landmarks in ``data/mean_face.npz`` (see :mod:`vasa3d.head.make_mean_face`):

* face: the 468 landmarks and mediapipe's face topology (eye and mouth holes);
* eyeballs: two spheres behind the eye holes whose front caps carry the iris
  landmarks 468-477, rotating about their centres for gaze;
* scalp and back of head: rings grown from the face outline back over an
  ellipsoid skull, with ear bumps on its sides;
* neck: an elliptic tube under the skull (version 3: reaching up under the skull and widening behind
  the jaw's angles into a nape, as a real neck does);
* inner mouth: a cavity hanging from the inner lip ring, upper and lower teeth
  rows and a tongue, which show when the jaw opens;
* skinning: joints root (head centre), neck, jaw, right eye, left eye;
* identity: a linear basis of smooth symmetric and asymmetric deformations
  around face anchors plus global width/height/depth;
* expression: the 52 ARKit blendshapes (:mod:`vasa3d.head.blendshapes`).

The vertices ``0..477`` are the mediapipe landmarks themselves, so
``landmark_vertices`` is the identity.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from vasa3d.head import landmark_sets as LS

REGIONS: tuple[str, ...] = ("face", "lips", "eyes", "eyeballs", "mouth_interior", "scalp", "ears", "neck")
R = {name: i for i, name in enumerate(REGIONS)}
JOINTS: tuple[str, ...] = ("root", "neck", "jaw", "eye_right", "eye_left")
PARENTS: tuple[int, ...] = (-1, 0, 1, 1, 1)

MEAN_FACE = Path(__file__).with_name("data") / "mean_face.npz"
#: jaw hinge (both temporomandibular joints lie on the x axis through it)
JAW_PIVOT = np.array([0.0, -0.03, 0.005])
NECK_JOINT = np.array([0.0, -0.085, -0.02])
EYEBALL_RADIUS = 0.0120
IRIS_RADIUS = 0.0058
#: skull ellipsoid (centre, radii) the back of the head is grown over
SKULL_CENTRE = np.array([0.0, 0.012, -0.004])
SKULL_RADII = np.array([0.076, 0.108, 0.100])
SCALP_RINGS = 12
#: version 1: the head of avatars made before the hair shell; 2: with the hair shell's shape components;
#: 3: the neck reaches up under the skull and widens behind the jaw into a nape (no wall shows between
#: the jaw, the ear and the hair on a turned head)
BUILTIN_VERSIONS = (1, 2, 3)
BUILTIN_VERSION = 3
#: the neck: an elliptic tube about a vertical axis at this z (m), with these half-width and half-depth (m),
#: its rings at these heights (m)
NECK_AXIS_Z = -0.022
NECK_RADII = (0.052, 0.056)
NECK_HEIGHTS = (-0.05, -0.08, -0.11, -0.14, -0.17, -0.20)
#: version 3's nape: one more ring on top (m), how far the tube widens sideways and reaches back at full
#: strength (m), and the heights over which that strength rises from 0 to 1 (m)
NAPE_TOP = -0.025
NAPE_WIDEN = 0.014
NAPE_BACK = 0.045
NAPE_RISE = (-0.12, -0.06)
#: the hair shell: scalp vertices move out from the skull centre by a profile over the angle from the top
#: of the head, seen from the front (0 degrees: up, 90: level with the skull centre); one shape component
#: per angle, a smooth bump over the profile, symmetric left-right.  The face and the neck never move; the
#: scalp's rings reach full strength HAIR_RAMP_T of the way from the face outline to the back pole
HAIR_ANGLES_DEG = (0.0, 21.0, 42.0, 63.0, 84.0, 105.0)
HAIR_BUMP_DEG = 16.0
#: ...and fades out between these angles: level with the ear lobes, above the jaw's corner (about 135)
HAIR_FADE_DEG = (104.0, 118.0)
HAIR_RAMP_T = 0.25


def _smoothstep(e0: float, e1: float, x):
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def lip_sets() -> tuple[set[int], set[int], set[int]]:
    """Upper-lip, lower-lip and corner landmark indices."""
    corners = set(LS.LIP_CORNERS)
    upper = {i for ring in LS.LIP_RINGS_UPPER for i in ring} - corners
    lower = {i for ring in LS.LIP_RINGS_LOWER for i in ring} - corners
    return upper, lower, corners


def jaw_weights_face(P: np.ndarray) -> np.ndarray:
    """How much each face landmark ``(478, 3)`` follows the jaw, in [0, 1]."""
    upper, lower, corners = lip_sets()
    y_ref = (P[LS.MOUTH_CORNER_RIGHT, 1] + P[LS.MOUTH_CORNER_LEFT, 1]) / 2
    ax = np.abs(P[:, 0])
    drop = _smoothstep(0.045, 0.07, ax) * 0.03  # the jaw line climbs toward the ears
    w = _smoothstep(-0.004, 0.016, (y_ref - drop) - P[:, 1])
    w[list(upper)] = 0.0
    w[list(lower)] = 1.0
    w[list(corners)] = 0.5
    w[468:] = 0.0
    return w


def rotate_x(points: np.ndarray, angle: float, pivot: np.ndarray) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    Rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return (points - pivot) @ Rx.T + pivot


def close_mouth(P: np.ndarray) -> np.ndarray:
    """Rotate the jaw of a landmark set ``(478, 3)`` until the inner lips meet."""
    w = jaw_weights_face(P)[:, None]
    a, b = P[LS.LIP_RINGS_LOWER[3][5]] - JAW_PIVOT, P[LS.LIP_RINGS_UPPER[3][5]] - JAW_PIVOT
    angle = math.atan2(a[1], a[2]) - math.atan2(b[1], b[2])
    Q = P + w * (rotate_x(P, angle, JAW_PIVOT) - P)
    for up, lo in zip(LS.LIP_RINGS_UPPER[3][1:-1], LS.LIP_RINGS_LOWER[3][1:-1]):
        Q[up] = Q[lo] = (Q[up] + Q[lo]) / 2
    return Q


def boundary_loops(tri: np.ndarray) -> list[list[int]]:
    """Closed loops of edges used by one triangle only, longest first."""
    from collections import Counter

    count = Counter(tuple(sorted(e)) for t in tri for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])))
    nxt: dict[int, list[int]] = {}
    for (a, b), c in count.items():
        if c == 1:
            nxt.setdefault(a, []).append(b)
            nxt.setdefault(b, []).append(a)
    seen: set[int] = set()
    loops = []
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            cand = [n for n in nxt[cur] if n != prev and n not in seen]
            if not cand:
                break
            prev, cur = cur, cand[0]
            loop.append(cur)
            seen.add(cur)
        loops.append(loop)
    return sorted(loops, key=len, reverse=True)


def _orient(tri: np.ndarray, V: np.ndarray, toward: np.ndarray | None = None, away: np.ndarray | None = None,
            direction: np.ndarray | None = None) -> np.ndarray:
    """Flip triangles so normals point away from / toward a point, or along a direction."""
    tri = np.asarray(tri, dtype=np.int64)
    p = V[tri]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    c = p.mean(1)
    if away is not None:
        ref = c - away
    elif toward is not None:
        ref = toward - c
    else:
        ref = np.broadcast_to(direction, c.shape)
    flip = np.einsum("ij,ij->i", n, ref) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri


def _grid_triangles(rows: list[np.ndarray], closed: bool) -> list[tuple[int, int, int]]:
    """Triangles between consecutive index rows of equal length."""
    out = []
    for a, b in zip(rows[:-1], rows[1:]):
        n = len(a)
        for k in range(n if closed else n - 1):
            k1 = (k + 1) % n
            out += [(a[k], b[k], b[k1]), (a[k], b[k1], a[k1])]
    return out


class _Builder:
    """Accumulates vertices, triangles, regions and skinning weights."""

    def __init__(self) -> None:
        self.V: list[np.ndarray] = []
        self.tri: list[np.ndarray] = []
        self.region: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.n = 0

    def add(self, pts: np.ndarray, region, weights) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        idx = np.arange(self.n, self.n + len(pts))
        self.V.append(pts)
        self.region.append(np.broadcast_to(np.asarray(region), (len(pts),)).astype(np.int64))
        self.weights.append(np.broadcast_to(np.asarray(weights, dtype=np.float64), (len(pts), len(JOINTS))).copy())
        self.n += len(pts)
        return idx

    def faces(self, tri) -> None:
        self.tri.append(np.asarray(tri, dtype=np.int64).reshape(-1, 3))

    @property
    def vertices(self) -> np.ndarray:
        return np.concatenate(self.V)


def _w(**kw) -> np.ndarray:
    w = np.zeros(len(JOINTS))
    for name, value in kw.items():
        w[JOINTS.index(name)] = value
    return w


def _eyeball(b: _Builder, P: np.ndarray, iris: tuple[int, ...], joint: str, front_z: float):
    """Sphere whose front cap carries the iris landmarks; returns (vertex ids, centre)."""
    centre = P[iris[0]].copy()
    centre[2] = front_z - EYEBALL_RADIUS
    ti = math.asin(IRIS_RADIUS / EYEBALL_RADIUS)
    thetas = [ti, 0.85, 1.25, 1.7, 2.2, 2.7]
    n_az = 12

    def pt(theta, phi):
        return centre + EYEBALL_RADIUS * np.array([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi),
                                                   math.cos(theta)])

    # the landmarks: centre and the four ring points (+x, up, -x, down on the image -> +x, +y, -x, -y in the world)
    P[iris[0]] = centre + np.array([0.0, 0.0, EYEBALL_RADIUS])
    for k, phi in zip(iris[1:], (0.0, math.pi / 2, math.pi, 1.5 * math.pi)):
        P[k] = pt(ti, phi)
    rows = []
    ring1 = []
    extra = []
    for k in range(n_az):
        if k % 3 == 0:
            ring1.append(iris[1 + k // 3])
        else:
            extra.append(pt(ti, 2 * math.pi * k / n_az))
            ring1.append(-len(extra))  # placeholder, fixed below
    w = _w(**{joint: 1.0})
    ids_extra = b.add(np.array(extra), R["eyeballs"], w)
    ring1 = np.array([r if r >= 0 else ids_extra[-r - 1] for r in ring1])
    rows.append(ring1)
    for theta in thetas[1:]:
        rows.append(b.add(np.array([pt(theta, 2 * math.pi * k / n_az) for k in range(n_az)]), R["eyeballs"], w))
    back = b.add(centre - np.array([0.0, 0.0, EYEBALL_RADIUS]), R["eyeballs"], w)[0]
    tri = _grid_triangles(rows, closed=True)
    tri += [(iris[0], ring1[k], ring1[(k + 1) % n_az]) for k in range(n_az)]
    last = rows[-1]
    tri += [(back, last[(k + 1) % n_az], last[k]) for k in range(n_az)]
    ids = np.concatenate([[iris[0]], np.asarray(iris[1:]), *rows[1:], ids_extra, [back]])
    return np.unique(ids), np.array(tri), centre


def _skull_point(d: np.ndarray) -> np.ndarray:
    """Point of the skull ellipsoid in unit direction(s) ``d`` from its centre."""
    r = 1.0 / np.sqrt(((d / SKULL_RADII) ** 2).sum(-1, keepdims=True))
    return SKULL_CENTRE + r * d


def _ear_bump(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outward x offsets that raise ears on the skull's sides, and the ear mask strength."""
    g = np.exp(-(((q[:, 1] + 0.02) / 0.026) ** 2) - ((q[:, 2] + 0.012) / 0.016) ** 2)
    g = g * _smoothstep(0.045, 0.06, np.abs(q[:, 0]))
    return np.sign(q[:, 0]) * 0.016 * g, g


@lru_cache(maxsize=2)
def build_builtin_arrays(version: int = BUILTIN_VERSION) -> dict[str, np.ndarray]:
    """All arrays of the built-in head (numpy, float64 / int64); cached per process.

    ``version`` 2 (the default) adds the hair shell's shape components (:data:`HAIR_ANGLES_DEG`) after
    version 1's; avatars made on version 1 are rebuilt on it."""
    if version not in BUILTIN_VERSIONS:
        raise ValueError(f"built-in head version {version!r} is not one of {BUILTIN_VERSIONS}")
    from vasa3d.head.blendshapes import build_blendshapes
    from vasa3d.head.shape_basis import build_shape_basis

    mf = np.load(MEAN_FACE)
    P = mf["landmarks"].astype(np.float64)
    face_tri = mf["triangles"].astype(np.int64)
    mirror478 = mf["mirror"].astype(np.int64)
    b = _Builder()

    # ---------------------------------------------------------------- face (0..477)
    jw = jaw_weights_face(P)
    upper, lower, corners = lip_sets()
    region = np.full(478, R["face"])
    region[list(upper | lower | corners)] = R["lips"]
    eye_r_ids = list(LS.EYE_RIGHT_UPPER + LS.EYE_RIGHT_LOWER)
    eye_l_ids = [int(mirror478[i]) for i in eye_r_ids]
    for ids in (eye_r_ids, eye_l_ids):
        c = P[ids].mean(0)
        d = ((P[:, 0] - c[0]) / 0.026) ** 2 + ((P[:, 1] - c[1]) / 0.015) ** 2
        region[(d < 1.0) & (region == R["face"])] = R["eyes"]
    region[468:] = R["eyeballs"]
    wface = np.zeros((478, len(JOINTS)))
    wface[:, JOINTS.index("neck")] = 1 - jw
    wface[:, JOINTS.index("jaw")] = jw
    wface[468:473] = _w(eye_right=1.0)
    wface[473:478] = _w(eye_left=1.0)
    P = P.copy()
    face_ids = b.add(P, region, wface)
    b.faces(face_tri)
    loops = boundary_loops(face_tri)
    oval = loops[0]
    mouth_loop = next(lp for lp in loops if LS.LIP_RINGS_UPPER[3][5] in lp)

    # ---------------------------------------------------------------- eyeballs
    front_r = P[list(LS.EYE_RIGHT_UPPER + LS.EYE_RIGHT_LOWER), 2].mean() + 0.001
    ids_r, tri_r, c_r = _eyeball(b, P, LS.IRIS_RIGHT, "eye_right", front_r)
    ids_l, tri_l, c_l = _eyeball(b, P, LS.IRIS_LEFT, "eye_left", front_r)
    b.V[0] = P  # the iris landmarks were placed onto the spheres
    b.faces(_orient(tri_r, b.vertices, away=c_r))
    b.faces(_orient(tri_l, b.vertices, away=c_l))

    # ---------------------------------------------------------------- scalp and back of head
    O = P[oval] - SKULL_CENTRE
    dn = O / SKULL_RADII
    polar0 = np.arccos(np.clip(dn[:, 2] / np.linalg.norm(dn, axis=1), -1, 1))
    azim = np.arctan2(dn[:, 1], dn[:, 0])
    rho = np.linalg.norm(O, axis=1) / np.linalg.norm(_skull_point(O / np.linalg.norm(O, axis=1, keepdims=True))
                                                      - SKULL_CENTRE, axis=1)
    rows = [np.asarray(oval)]
    scalp_ids = []
    scalp_t = {}  # vertex id -> how far back its ring lies (0 at the face outline, 1 at the back pole)
    for k in range(1, SCALP_RINGS):
        t = k / SCALP_RINGS
        polar = polar0 + t * (math.pi - polar0)
        d = np.stack([np.sin(polar) * np.cos(azim), np.sin(polar) * np.sin(azim), np.cos(polar)], 1)
        d = d * SKULL_RADII
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        q = _skull_point(d)
        s = float(_smoothstep(0.0, 0.35, t))
        q = SKULL_CENTRE + (q - SKULL_CENTRE) * (rho[:, None] * (1 - s) + s)
        bump, g = _ear_bump(q)
        q[:, 0] += bump
        reg = np.where(g > 0.3, R["ears"], R["scalp"])
        wj = jw[oval] * (1 - _smoothstep(0.0, 0.45, t))
        w = np.zeros((len(q), len(JOINTS)))
        w[:, JOINTS.index("neck")] = 1 - wj
        w[:, JOINTS.index("jaw")] = wj
        ids = b.add(q, reg, w)
        rows.append(ids)
        scalp_ids.append(ids)
        scalp_t.update({int(i): t for i in ids})
    pole = b.add(_skull_point(np.array([0.0, 0.0, -1.0])), R["scalp"], _w(neck=1.0))[0]
    scalp_t[int(pole)] = 1.0
    tri = _grid_triangles(rows, closed=True)
    last = rows[-1]
    tri += [(pole, last[k], last[(k + 1) % len(last)]) for k in range(len(last))]
    b.faces(_orient(np.array(tri), b.vertices, away=SKULL_CENTRE))

    # ---------------------------------------------------------------- neck
    n_az = 24
    az = np.linspace(0, 2 * math.pi, n_az, endpoint=False)
    neck_rows = []
    for y in ((NAPE_TOP,) + NECK_HEIGHTS if version >= 3 else NECK_HEIGHTS):
        ring = _neck_ring(az, y, nape=version >= 3)
        to_root = float(_smoothstep(-0.09, -0.18, y))
        neck_rows.append(b.add(ring, R["neck"], _w(neck=1 - to_root, root=to_root)))
    tri = _grid_triangles(neck_rows, closed=True)
    b.faces(_neck_orient(np.array(tri), b.vertices))

    # ---------------------------------------------------------------- inner mouth
    mouth_loop = np.asarray(mouth_loop)
    lipP = P[mouth_loop]
    m = lipP.mean(0)
    low = jw[mouth_loop] >= 0.5
    rows = [mouth_loop]
    for depth, shrink, open_ in ((0.008, 0.92, 0.003), (0.022, 0.75, 0.008), (0.034, 0.5, 0.006)):
        q = m + (lipP - m) * np.array([shrink, 1.0, 1.0])
        q[:, 2] = m[2] - depth - (m[2] - lipP[:, 2]) * 0.3
        q[:, 1] += np.where(low, -open_, open_)
        w = np.where(low[:, None], _w(jaw=1.0), _w(neck=1.0))
        rows.append(b.add(q, R["mouth_interior"], w))
    back = b.add(m - np.array([0.0, 0.0, 0.04]), R["mouth_interior"], _w(neck=0.5, jaw=0.5))[0]
    tri = _grid_triangles(rows, closed=True)
    last = rows[-1]
    tri += [(back, last[k], last[(k + 1) % len(last)]) for k in range(len(last))]
    b.faces(_orient(np.array(tri), b.vertices, toward=m + np.array([0.0, 0.0, 0.03])))

    # teeth rows and tongue
    y0 = P[LS.LIP_RINGS_UPPER[3][5], 1]
    z0 = P[LS.LIP_RINGS_UPPER[3][5], 2]
    xc = abs(P[LS.LIP_RINGS_UPPER[3][0], 0]) * 0.85
    zc = P[LS.LIP_RINGS_UPPER[3][0], 2]
    k = (z0 - zc) / max(xc**2, 1e-6) * 0.8
    xs = np.linspace(-xc, xc, 11)
    teeth_ids = []
    for top, bot, wj, back_off in ((y0 + 0.009, y0 - 0.0008, 0.0, 0.005), (y0 - 0.0012, y0 - 0.0095, 1.0, 0.0065)):
        zs = z0 - back_off - k * xs**2
        rows = [b.add(np.stack([xs, np.full_like(xs, yy), zs], 1), R["mouth_interior"],
                      _w(neck=1 - wj, jaw=wj)) for yy in (top, bot)]
        teeth_ids += [*rows]
        b.faces(_orient(np.array(_grid_triangles(rows, closed=False)), b.vertices, direction=np.array([0, 0, 1.0])))
    tx = np.linspace(-0.017, 0.017, 7)
    tz = np.linspace(z0 - 0.012, z0 - 0.042, 6)
    tongue_rows = []
    for z in tz:
        yy = y0 - 0.011 + 0.004 * (1 - (tx / 0.018) ** 2)
        tongue_rows.append(b.add(np.stack([tx, yy, np.full_like(tx, z)], 1), R["mouth_interior"], _w(jaw=1.0)))
    b.faces(_orient(np.array(_grid_triangles(tongue_rows, closed=False)), b.vertices, direction=np.array([0, 1.0, 0])))

    # ---------------------------------------------------------------- assemble
    V = b.vertices
    faces = np.concatenate(b.tri)
    vregion = np.concatenate(b.region)
    weights = np.concatenate(b.weights)
    weights /= weights.sum(1, keepdims=True)
    joints = np.stack([np.zeros(3), NECK_JOINT, JAW_PIVOT, c_r, c_l])
    tree = cKDTree(V)
    dist, mirror = tree.query(V * np.array([-1.0, 1.0, 1.0]))
    # the landmarks have an exact map (the closed inner lips coincide, so nearest points are ambiguous there)
    mirror[:478] = mirror478
    dist[:478] = np.linalg.norm(V[mirror478] * np.array([-1.0, 1.0, 1.0]) - V[:478], axis=1)
    if dist.max() > 1e-5:
        raise RuntimeError(f"built-in head is not mirror-symmetric ({dist.max():.2e} m)")
    # a face takes the region most of its corners have (ties: the first corner's)
    fr = vregion[faces]
    face_regions = np.where(fr[:, 1] == fr[:, 2], fr[:, 1], fr[:, 0])
    tongue = np.concatenate(tongue_rows)
    arrays = {
        "v_template": V, "faces": faces, "vertex_regions": vregion, "face_regions": face_regions,
        "lbs_weights": weights, "joints": joints, "parents": np.array(PARENTS), "mirror": mirror,
        "landmark_vertices": np.arange(478), "jaw_weights": weights[:, JOINTS.index("jaw")],
        "teeth": np.concatenate(teeth_ids), "tongue": tongue, "scalp": np.concatenate(scalp_ids),
        "eyeball_right": ids_r, "eyeball_left": ids_l,
    }
    if version >= 2:
        ramp = np.zeros(len(V))
        ids = np.fromiter(scalp_t, np.int64)
        ramp[ids] = _smoothstep(0.0, HAIR_RAMP_T, np.array([scalp_t[int(i)] for i in ids]))
        arrays["hair_ramp"] = ramp
        arrays["n_hair"] = np.array(len(HAIR_ANGLES_DEG))
    arrays.update(build_shape_basis(arrays))
    arrays.update(build_blendshapes(arrays))
    return arrays


def _neck_ring(az: np.ndarray, y: float, nape: bool) -> np.ndarray:
    """``(len(az), 3)`` one ring of the neck at height ``y``; ``az`` is the azimuth, sin > 0 toward the face.

    The tube is an ellipse 10.4 cm wide and 11.2 cm deep. With ``nape`` its back half widens sideways
    (behind the jaw's angles) and reaches backward (the nape under the hair), rising smoothly from nothing
    at :data:`NAPE_RISE` ``[0]`` to full strength at ``[1]``; the front, which a frontal view sees, keeps
    the tube.
    """
    s = float(_smoothstep(*NAPE_RISE, y)) if nape else 0.0
    behind = np.maximum(0.0, -np.sin(az))
    x = np.cos(az) * (NECK_RADII[0] + NAPE_WIDEN * s * np.minimum(1.0, 2.0 * behind))
    z = NECK_AXIS_Z + NECK_RADII[1] * np.sin(az) - NAPE_BACK * s * behind * (0.5 + 0.5 * np.abs(np.cos(az)))
    return np.stack([x, np.full(len(az), y), z], 1)


def _neck_orient(tri: np.ndarray, V: np.ndarray) -> np.ndarray:
    p = V[tri]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    c = p.mean(1)
    out = c - np.array([0.0, 0.0, NECK_AXIS_Z])
    out[:, 1] = 0
    flip = np.einsum("ij,ij->i", n, out) < 0
    tri = tri.copy()
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri
