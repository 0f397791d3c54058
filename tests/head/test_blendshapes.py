"""Each ARKit blendshape of the built-in head moves what its name says."""

import numpy as np
import pytest
import torch

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES, mirror_name
from vasa3d.face import landmarks as L
from vasa3d.head import REGIONS, HeadParams
from vasa3d.head.blendshapes import ZONES

FACE = 0.14  # face width, metres
MM = 0.001


@pytest.fixture(scope="module")
def posed(head):
    """Vertices ``(53, V, 3)``: neutral, then each blendshape at weight 1."""
    p = HeadParams.neutral(53, head)
    p.expression[1:] = torch.eye(52)
    with torch.no_grad():
        return head(p).numpy()


def _d(posed, name):
    return posed[1 + ARKIT_INDEX[name]] - posed[0]


def lm_of(posed, name=None):
    return posed[0 if name is None else 1 + ARKIT_INDEX[name]][:478]


# (blendshape, landmark, axis, sign): the landmark moves >= 1.5 mm along +-axis
MOVES = [
    ("eyeLookDownLeft", 473, 1, -1), ("eyeLookUpLeft", 473, 1, +1),
    ("eyeLookInLeft", 473, 0, -1), ("eyeLookOutLeft", 473, 0, +1),
    ("eyeLookDownRight", 468, 1, -1), ("eyeLookInRight", 468, 0, +1), ("eyeLookOutRight", 468, 0, -1),
    ("jawForward", L.CHIN, 2, +1), ("jawLeft", L.CHIN, 0, +1), ("jawRight", L.CHIN, 0, -1),
    ("jawOpen", L.CHIN, 1, -1),
    ("mouthLeft", L.LIP_UPPER_OUTER, 0, +1), ("mouthRight", L.LIP_UPPER_OUTER, 0, -1),
    ("mouthSmileLeft", L.MOUTH_LEFT, 1, +1), ("mouthSmileLeft", L.MOUTH_LEFT, 0, +1),
    ("mouthSmileRight", L.MOUTH_RIGHT, 1, +1), ("mouthSmileRight", L.MOUTH_RIGHT, 0, -1),
    ("mouthFrownLeft", L.MOUTH_LEFT, 1, -1), ("mouthDimpleLeft", L.MOUTH_LEFT, 2, -1),
    ("mouthStretchLeft", L.MOUTH_LEFT, 0, +1), ("mouthStretchLeft", L.MOUTH_LEFT, 1, -1),
    ("mouthRollLower", L.LIP_LOWER_OUTER, 2, -1), ("mouthRollUpper", L.LIP_UPPER_OUTER, 2, -1),
    ("mouthShrugLower", L.LIP_LOWER_OUTER, 1, +1), ("mouthShrugUpper", L.LIP_UPPER_OUTER, 1, +1),
    ("mouthLowerDownLeft", 405, 1, -1), ("mouthUpperUpLeft", 269, 1, +1),
    ("mouthFunnel", L.LIP_UPPER_OUTER, 2, +1), ("mouthPucker", L.LIP_LOWER_OUTER, 2, +1),
    ("browDownLeft", 334, 1, -1), ("browInnerUp", 336, 1, +1), ("browInnerUp", 107, 1, +1),
    ("browOuterUpLeft", 300, 1, +1), ("cheekPuff", 425, 0, +1), ("cheekPuff", 205, 0, -1),
    ("cheekSquintLeft", 347, 1, +1), ("noseSneerLeft", 278, 1, +1),
]


@pytest.mark.parametrize("name,idx,axis,sign", MOVES)
def test_blendshape_moves_named_feature(posed, name, idx, axis, sign):
    d = _d(posed, name)[idx, axis]
    assert sign * d >= 1.5 * MM, f"{name}: landmark {idx} moved {d * 1000:.2f} mm along axis {axis}"


def test_blink_left_closes_left_eye_only(posed):
    rest, blink = lm_of(posed), lm_of(posed, "eyeBlinkLeft")
    assert L.eye_aperture(blink, "left") < 0.1 * L.eye_aperture(rest, "left")
    assert L.eye_aperture(blink, "right") == pytest.approx(L.eye_aperture(rest, "right"), rel=1e-4)
    blink_r = lm_of(posed, "eyeBlinkRight")
    assert L.eye_aperture(blink_r, "right") < 0.1 * L.eye_aperture(rest, "right")


def test_squint_and_wide(posed):
    rest = L.eye_aperture(lm_of(posed), "left")
    assert 0.4 * rest < L.eye_aperture(lm_of(posed, "eyeSquintLeft"), "left") < 0.85 * rest
    assert L.eye_aperture(lm_of(posed, "eyeWideLeft"), "left") > 1.2 * rest


def test_jaw_open_raises_lip_gap_and_mouth_close_lowers_it(head):
    p = HeadParams.neutral(2, head)
    p.expression[:, ARKIT_INDEX["jawOpen"]] = 1.0
    p.expression[1, ARKIT_INDEX["mouthClose"]] = 1.0
    lm = head.landmarks(p).detach().numpy()
    assert L.lip_gap(lm[0]) > 0.015
    assert L.lip_gap(lm[1]) < L.lip_gap(lm[0]) - 0.005


def test_pucker_and_funnel_narrow_the_mouth(posed):
    width = lambda lm: lm[L.MOUTH_LEFT, 0] - lm[L.MOUTH_RIGHT, 0]  # noqa: E731
    w0 = width(lm_of(posed))
    assert width(lm_of(posed, "mouthPucker")) < w0 - 0.01
    assert width(lm_of(posed, "mouthFunnel")) < w0 - 0.005
    assert L.lip_gap(lm_of(posed, "mouthFunnel")) > 0.003


def test_press_thins_the_lips_on_its_side(posed):
    thick = lambda lm, u, lo: np.linalg.norm(lm[u] - lm[lo])  # noqa: E731
    # left half of the lips (270 upper, 321 lower on the outer ring)
    t0 = thick(lm_of(posed), 270, 321)
    assert thick(lm_of(posed, "mouthPressLeft"), 270, 321) < t0 - 0.001


def test_tongue_out_pushes_the_tongue_forward(posed, head):
    tongue = head.extra("tongue").numpy()
    d = _d(posed, "tongueOut")
    assert d[tongue, 2].max() > 0.02
    outside = np.setdiff1d(np.arange(head.n_vertices), tongue)
    assert np.abs(d[outside]).max() == 0


def test_every_blendshape_moves_something(posed):
    for name in ARKIT_NAMES:
        assert np.linalg.norm(_d(posed, name), axis=1).max() > 2 * MM, name


@pytest.mark.parametrize("name", [n for n in ARKIT_NAMES if n.endswith("Left")])
def test_left_right_pairs_mirror(posed, head, name):
    """Each Left/Right pair mirrors the other across the symmetry plane within 5%."""
    m = head.extra("mirror").numpy()
    dl = _d(posed, name)
    dr = _d(posed, mirror_name(name))
    dr_mirrored = dr[m] * np.array([-1.0, 1.0, 1.0])
    err = np.linalg.norm(dl - dr_mirrored, axis=1).max()
    assert err <= 0.05 * np.linalg.norm(dl, axis=1).max(), f"{name}: {err:.2e}"


@pytest.mark.parametrize("name", ARKIT_NAMES)
def test_blendshape_stays_in_its_region(posed, head, name):
    """No blendshape moves vertices outside its region by more than 1% of face size."""
    d = np.linalg.norm(_d(posed, name), axis=1)
    allowed = np.isin(head.vertex_regions.numpy(), [REGIONS.index(r) for r in ZONES[name]])
    assert d[~allowed].max(initial=0) <= 0.01 * FACE, f"{name} moves {d[~allowed].max() * 1000:.2f} mm outside"


@pytest.mark.parametrize("name", [n for n in ARKIT_NAMES if n.endswith("Left")
                                  and n not in ("jawLeft", "mouthLeft")])
def test_left_shapes_stay_on_the_left(posed, name):
    d = np.linalg.norm(_d(posed, name), axis=1)
    far_right = posed[0][:, 0] < -0.025
    assert d[far_right].max() <= 0.01 * FACE, f"{name} moves the right side {d[far_right].max() * 1000:.2f} mm"
