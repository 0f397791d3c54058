"""The 52 ARKit blendshapes of the built-in head, built from landmark semantics.

Each shape is a displacement field ``(V, 3)`` (metres at weight 1) made of
compactly supported kernels placed on named landmarks (lip corners, lids,
brows, nose wings, cheeks), masked by the vertex regions it may touch.  The
jaw and gaze shapes also (or only) rotate joints: ``expr_pose[e, j]`` is the
axis-angle that weight 1 of shape ``e`` adds to joint ``j``.

Only the subject's-left shapes are written out; each ``...Right`` shape is the
mirror image of its ``...Left`` twin through the template's vertex mirror map,
so pairs are exact mirrors by construction.
"""

from __future__ import annotations

import numpy as np

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES, mirror_name
from vasa3d.head import landmark_sets as LS

JAW_OPEN_RAD = 0.35
GAZE_HORIZONTAL_RAD = 0.45
GAZE_VERTICAL_RAD = 0.35
BLINK_CLOSURE = 0.97

#: the regions each blendshape may move (see :data:`vasa3d.head.builtin.REGIONS`)
_EYE = ("eyes", "face")
_MOUTH = ("lips", "face", "mouth_interior")
_BROW = ("face", "eyes")
ZONES: dict[str, tuple[str, ...]] = {}
for _n in ARKIT_NAMES:
    if _n.startswith("eyeLook"):
        ZONES[_n] = ("eyeballs", "eyes")
    elif _n.startswith("eye"):
        ZONES[_n] = _EYE
    elif _n.startswith("jaw"):
        ZONES[_n] = ("face", "lips", "mouth_interior", "scalp")  # the skin under the jaw is grown into the scalp
    elif _n.startswith("mouth"):
        ZONES[_n] = _MOUTH
    elif _n.startswith("brow"):
        ZONES[_n] = _BROW
    elif _n.startswith("cheek") or _n.startswith("nose"):
        ZONES[_n] = ("face", "eyes", "lips")
    else:
        ZONES[_n] = ("mouth_interior",)


def _kern(X: np.ndarray, centre, radii) -> np.ndarray:
    """Compact smooth bump: 1 at ``centre``, 0 beyond the ellipsoid ``radii``."""
    d2 = (((X - np.asarray(centre)) / np.asarray(radii, dtype=np.float64)) ** 2).sum(1)
    return np.clip(1 - d2, 0, None) ** 2


def _contour(X: np.ndarray, ids) -> tuple[np.ndarray, np.ndarray]:
    """A lid contour sorted by x: (xs, positions ``(n, 3)``)."""
    pts = X[list(ids)]
    order = np.argsort(pts[:, 0])
    return pts[order, 0], pts[order]


def _interp(xs: np.ndarray, pts: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(x, xs, pts[:, k]) for k in range(3)], 1)


class _Ctx:
    def __init__(self, a: dict) -> None:
        from vasa3d.head.builtin import REGIONS

        self.X = a["v_template"]
        self.mirror = a["mirror"]
        self.jaw = a["jaw_weights"]
        reg = a["vertex_regions"]
        self.is_ = lambda *names: np.isin(reg, [REGIONS.index(n) for n in names]).astype(np.float64)
        self.face = self.is_("face", "lips", "eyes")
        self.lips = self.is_("lips")
        self.low = self.jaw * self.face
        self.up = (1 - self.jaw) * self.face
        m478 = self.mirror[:478]
        self.L = lambda ids: [int(m478[i]) for i in ids]  # subject's-right landmark ids -> left
        self.tongue = a["tongue"]

    def lid(self, which: str, amount: np.ndarray | float, height: float = 0.012) -> np.ndarray:
        """Move the left upper ("upper") or lower ("lower") lid toward the other lid.

        ``amount`` 1 brings the contour onto the other contour; skin above
        (below) follows with a falloff over ``height`` metres.
        """
        X = self.X
        xs_u, up = _contour(X, self.L(LS.EYE_RIGHT_UPPER))
        xs_l, lo = _contour(X, self.L(LS.EYE_RIGHT_LOWER))
        x = X[:, 0]
        inside = (x > xs_u[0] - 1e-9) & (x < xs_u[-1] + 1e-9)
        U, Lo = _interp(xs_u, up, x), _interp(xs_l, lo, x)
        if which == "upper":
            h = X[:, 1] - U[:, 1]
            gap = Lo - U
        else:
            h = Lo[:, 1] - X[:, 1]
            gap = U - Lo
        fall = np.clip(1 - np.clip(h, 0, None) / height, 0, 1) ** 2 * (h > -1e-7)
        D = gap * (amount * fall * inside * self.is_("eyes", "face"))[:, None]
        return D

    def mirror_field(self, D: np.ndarray) -> np.ndarray:
        return D[self.mirror] * np.array([-1.0, 1.0, 1.0])


def _left_shapes(c: _Ctx) -> dict[str, np.ndarray]:
    X, face, lips, low, up = c.X, c.face, c.lips, c.low, c.up
    F = lambda k, v: k[:, None] * np.asarray(v, dtype=np.float64)  # noqa: E731
    corner = X[LS.MOUTH_CORNER_LEFT]
    mouth = (X[LS.LIP_RINGS_UPPER[3][5]] + X[LS.LIP_RINGS_LOWER[0][5]]) / 2
    brow = X[c.L(LS.BROW_RIGHT)].mean(0)
    brow_out = X[c.L(LS.BROW_RIGHT_OUTER)].mean(0)
    cheek = X[c.L(LS.CHEEK_RIGHT)].mean(0)
    wing = X[c.L(LS.NOSE_WING_RIGHT)].mean(0)
    s: dict[str, np.ndarray] = {}
    s["eyeBlinkLeft"] = c.lid("upper", BLINK_CLOSURE)
    # looking down the upper lid follows the eye; up, it lifts a little
    s["eyeLookDownLeft"] = c.lid("upper", 0.3)
    s["eyeLookUpLeft"] = -c.lid("upper", 0.15)
    s["eyeLookInLeft"] = np.zeros_like(X)
    s["eyeLookOutLeft"] = np.zeros_like(X)
    s["eyeSquintLeft"] = c.lid("lower", 0.35, height=0.01) + F(_kern(X, cheek + [0, 0.01, 0], 0.018) * face,
                                                             [0, 0.0015, 0])
    s["eyeWideLeft"] = -c.lid("upper", 0.35)
    s["jawLeft"] = F(c.jaw, [0.008, 0, 0])
    s["mouthLeft"] = F(_kern(X, mouth, [0.045, 0.028, 0.04]) * face, [0.008, 0, 0])
    s["mouthSmileLeft"] = F(_kern(X, corner, 0.028) * face, [0.006, 0.008, -0.003])
    s["mouthFrownLeft"] = F(_kern(X, corner, 0.025) * face, [0.001, -0.007, 0])
    s["mouthDimpleLeft"] = F(_kern(X, corner, 0.02) * face, [0.002, 0.001, -0.005])
    s["mouthStretchLeft"] = F(_kern(X, corner, 0.028) * face, [0.007, -0.003, -0.002])
    kp = _kern(X, corner - [0.012, 0, 0], 0.025) * lips
    s["mouthPressLeft"] = F(kp * up, [0, -0.0025, -0.001]) + F(kp * low, [0, 0.0025, -0.001])
    s["mouthLowerDownLeft"] = F(_kern(X, X[c.L([LS.LIP_RINGS_LOWER[0][3]])[0]], 0.022) * low, [0, -0.006, 0.001])
    s["mouthUpperUpLeft"] = F(_kern(X, X[c.L([LS.LIP_RINGS_UPPER[0][3]])[0]], 0.02) * up, [0, 0.005, 0.001])
    s["browDownLeft"] = F(_kern(X, brow, [0.03, 0.016, 0.03]) * face, [-0.002, -0.006, 0])
    s["browOuterUpLeft"] = F(_kern(X, brow_out, [0.022, 0.016, 0.03]) * face, [0, 0.007, 0])
    s["cheekSquintLeft"] = F(_kern(X, cheek + [0, 0.012, 0], 0.025) * face, [0, 0.005, 0.001])
    s["noseSneerLeft"] = F(_kern(X, wing + [0, 0.004, 0], 0.016) * face, [0, 0.004, 0.001])
    return s


def _central_shapes(c: _Ctx) -> dict[str, np.ndarray]:
    X, face, lips, low, up = c.X, c.face, c.lips, c.low, c.up
    F = lambda k, v: k[:, None] * np.asarray(v, dtype=np.float64)  # noqa: E731
    mouth = (X[LS.LIP_RINGS_UPPER[3][5]] + X[LS.LIP_RINGS_LOWER[0][5]]) / 2
    top_lip, bottom_lip = X[LS.LIP_RINGS_UPPER[0][5]], X[LS.LIP_RINGS_LOWER[0][5]]
    chin = X[LS.CHIN]
    brow_in = X[list(LS.BROW_RIGHT_INNER)].mean(0)
    cheek = X[list(LS.CHEEK_RIGHT)].mean(0)
    s: dict[str, np.ndarray] = {}
    s["jawForward"] = F(c.jaw, [0, 0, 0.008])
    s["jawOpen"] = np.zeros_like(X)
    km = _kern(X, mouth, [0.035, 0.022, 0.03]) * face
    kw = _kern(X, mouth, [0.06, 0.045, 0.07]) * face  # wide enough to reach the corners
    s["mouthClose"] = F(km * up * lips, [0, -0.003, 0]) + F(km * low * lips, [0, 0.005, 0])
    toward = np.stack([-(X[:, 0] - mouth[0]), 0 * X[:, 0], 0 * X[:, 0]], 1)
    s["mouthFunnel"] = kw[:, None] * (0.35 * toward + [0, 0, 0.006]) + F(km * up * lips, [0, 0.003, 0]) + F(
        km * low * lips, [0, -0.003, 0])
    s["mouthPucker"] = kw[:, None] * (0.6 * toward + [0, 0, 0.009]) + F(km * up * lips, [0, -0.001, 0]) + F(
        km * low * lips, [0, 0.001, 0])
    s["mouthRollLower"] = F(_kern(X, bottom_lip, [0.03, 0.012, 0.03]) * low, [0, 0.002, -0.005])
    s["mouthRollUpper"] = F(_kern(X, top_lip, [0.03, 0.012, 0.03]) * up, [0, -0.002, -0.005])
    s["mouthShrugLower"] = F(_kern(X, (bottom_lip + chin) / 2, 0.03) * low, [0, 0.006, 0.002])
    s["mouthShrugUpper"] = F(_kern(X, top_lip, 0.022) * up, [0, 0.003, 0.001])
    ki = _kern(X, brow_in, [0.02, 0.018, 0.03]) * face
    s["browInnerUp"] = F(ki + ki[c.mirror], [0, 0.008, 0])
    kc = _kern(X, cheek, 0.03) * face
    puff = F(kc, [-0.006, 0, 0.004])  # the subject's right cheek moves to -x
    s["cheekPuff"] = puff + c.mirror_field(puff)
    t = c.tongue
    z = X[t, 2]
    front = (z - z.min()) / max(z.max() - z.min(), 1e-9)
    D = np.zeros_like(X)
    D[t] = np.stack([0 * front, -0.004 * front, 0.012 + 0.02 * front], 1)
    s["tongueOut"] = D
    return s


def build_blendshapes(a: dict) -> dict[str, np.ndarray]:
    """``exprdirs (V, 3, 52)`` and ``expr_pose (52, J, 3)`` in ARKit order."""
    from vasa3d.head.builtin import JOINTS

    c = _Ctx(a)
    shapes = _central_shapes(c)
    left = _left_shapes(c)
    for name, D in left.items():
        shapes[name] = D
        shapes[mirror_name(name)] = c.mirror_field(D)
    missing = set(ARKIT_NAMES) - set(shapes)
    if missing:
        raise RuntimeError(f"blendshapes not built: {sorted(missing)}")
    exprdirs = np.stack([shapes[n] for n in ARKIT_NAMES], -1)
    pose = np.zeros((len(ARKIT_NAMES), len(JOINTS), 3))
    jaw, er, el = JOINTS.index("jaw"), JOINTS.index("eye_right"), JOINTS.index("eye_left")
    pose[ARKIT_INDEX["jawOpen"], jaw] = [JAW_OPEN_RAD, 0, 0]
    # rotation +a about y turns the gaze toward +x (the subject's left); +a about x turns it down
    gaze = {"LookIn": [0, -GAZE_HORIZONTAL_RAD, 0], "LookOut": [0, GAZE_HORIZONTAL_RAD, 0],
            "LookUp": [-GAZE_VERTICAL_RAD, 0, 0], "LookDown": [GAZE_VERTICAL_RAD, 0, 0]}
    for key, aa in gaze.items():
        aa = np.array(aa, dtype=np.float64)
        pose[ARKIT_INDEX[f"eye{key}Left"], el] = aa
        pose[ARKIT_INDEX[f"eye{key}Right"], er] = aa * np.array([1.0, -1.0, -1.0])
    return {"exprdirs": exprdirs, "expr_pose": pose}
