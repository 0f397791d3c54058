"""The mesh-warp animator on the astronaut portrait: identity, mouth, eyes, coverage."""

import numpy as np
import pytest
from scipy import ndimage

from vasa3d.arkit import ARKIT_INDEX as I
from vasa3d.eval.identity import identity_distance
from vasa3d.face import detect_landmarks
from vasa3d.face import landmarks as L

from .conftest import with_pose


def test_portrait_latent_reproduces_the_portrait(astronaut_fit, animator):
    analysis = astronaut_fit[0]
    zd, zp = animator.portrait_latent
    rgb, mask = animator(zd, zp, animator.camera)
    assert rgb.shape == (512, 512, 3) and rgb.dtype == np.uint8 and mask.dtype == np.float32
    diff = np.abs(rgb.astype(int) - analysis.image.astype(int)).mean(-1)
    outside_mouth = ~animator.render(zd, zp)["mouth"]
    assert diff[outside_mouth].mean() < 4.0  # grey levels
    # deterministic: the same latent gives the same bytes
    assert np.array_equal(rgb, animator(zd, zp, animator.camera)[0])


def test_identity_is_kept_frontal_and_at_30_degrees(astronaut_fit, animator):
    portrait = astronaut_fit[0].image
    zd, zp = animator.portrait_latent
    frontal = identity_distance(portrait, animator(zd, zp)[0])
    neutral = identity_distance(portrait, animator(np.zeros(52, np.float32), zp)[0])
    talking = zd.copy()
    talking[I["jawOpen"]] = 0.35
    speaking = identity_distance(portrait, animator(talking, zp)[0])
    assert max(frontal, neutral, speaking) <= 0.4, (frontal, neutral, speaking)
    for yaw in (-30, 30):
        d = identity_distance(portrait, animator(zd, with_pose(zp, yaw))[0])
        assert d <= 0.5, (yaw, d)


def test_the_side_the_portrait_saw_at_a_slant_is_drawn_from_its_mirror(astronaut_fit, animator):
    """Turned 30 degrees, the astronaut shows the cheek that her photo saw at a slant. With the mirror point's
    texel taking over below ``mirror_facing`` 1.0 (it used to take over only below 0.3, where the texel is
    already blurred), that side is drawn from the cheek the photo saw squarely: the worse of the two turned
    views comes nearer the portrait in dlib's identity distance."""
    from vasa3d.animate import MeshWarpAnimator, MeshWarpConfig

    analysis, head, fit = astronaut_fit
    before = MeshWarpAnimator(analysis, fit, head, MeshWarpConfig(mirror_facing=0.3))
    portrait = analysis.image
    zd, zp = np.zeros(52, np.float32), animator.portrait_latent[1]
    worst = {}
    for name, anim in (("before", before), ("now", animator)):
        worst[name] = max(identity_distance(portrait, anim(zd, with_pose(zp, yaw))[0]) for yaw in (-30, 30))
    assert worst["now"] < worst["before"] - 0.02, worst
    # the portrait itself (its own latent): nothing is seen more squarely than the photo saw it, nothing changes
    own = animator.portrait_latent
    diff = np.abs(animator(*own)[0].astype(np.int16) - before(*own)[0].astype(np.int16)).max(-1)
    assert (diff > 2).mean() < 0.002, (diff > 2).mean()


def _lum(rgb):
    return rgb.astype(np.float32).mean(-1) / 255.0


def test_open_mouth_shows_teeth_tongue_and_cavity(animator):
    zd, zp = animator.portrait_latent
    closed = np.zeros(52, np.float32)
    closed[I["mouthClose"]] = 0.0
    shut = animator.render(closed, zp)
    opened = closed.copy()
    opened[I["jawOpen"]] = 0.8
    out = animator.render(opened, zp)
    mouth = out["mouth"]
    assert mouth.sum() > 2000 > shut["mouth"].sum() * 4
    lum = _lum(out["rgb"])[mouth]
    assert (lum > 0.7).mean() > 0.12  # teeth
    assert (lum < 0.2).mean() > 0.25  # dark cavity
    # the lips part in the picture itself: mediapipe measures the gap
    gap_open = L.lip_gap(detect_landmarks(out["rgb"]))
    gap_shut = L.lip_gap(detect_landmarks(shut["rgb"]))
    assert gap_open > 4 * max(gap_shut, 2.0)


def test_blink_closes_the_eyes_and_gaze_moves_the_irises(animator):
    zd = np.zeros(52, np.float32)
    zp = animator.portrait_latent[1]
    open_ = animator.render(zd, zp)
    blink = zd.copy()
    blink[I["eyeBlinkLeft"]] = blink[I["eyeBlinkRight"]] = 1.0
    shut = animator.render(blink, zp)
    assert shut["eyes"].sum() < 0.1 * open_["eyes"].sum()
    lm_open, lm_shut = detect_landmarks(open_["rgb"]), detect_landmarks(shut["rgb"])
    ratios = [L.eye_aperture(lm_shut, side) / L.eye_aperture(lm_open, side) for side in ("left", "right")]
    # mediapipe reads the lash line of a closed lid as a little opening
    assert np.mean(ratios) < 0.55 and max(ratios) < 0.7, ratios
    # what covers the eye is warm skin, where the open eye showed grey-white sclera and iris
    eye = open_["eyes"]
    warm = lambda rgb: (rgb[..., 0].astype(int) - rgb[..., 2].astype(int)) > 30  # noqa: E731
    assert warm(shut["rgb"])[eye].mean() > warm(open_["rgb"])[eye].mean() + 0.3

    look = zd.copy()
    look[I["eyeLookOutLeft"]] = look[I["eyeLookInRight"]] = 1.0  # toward the subject's left = image right
    lm_look = detect_landmarks(animator.render(look, zp)["rgb"])
    shift = lm_look[[L.IRIS_RIGHT, L.IRIS_LEFT], 0] - lm_open[[L.IRIS_RIGHT, L.IRIS_LEFT], 0]
    assert (shift > 1.5).all(), shift


@pytest.mark.parametrize("yaw", [-40, 40])
def test_no_holes_at_40_degrees_of_yaw(animator, yaw):
    zd, zp = animator.portrait_latent
    out = animator.render(zd, with_pose(zp, yaw))
    silhouette = ndimage.binary_fill_holes(out["covered"])
    assert silhouette.sum() > 40000
    assert (out["mask"][silhouette] >= 0.5).mean() >= 0.99
    # every head pixel got a colour: a texel, a mirrored texel or the diffused fill, never the background
    assert out["covered"][silhouette].mean() >= 0.99
    rgb = out["rgb"].astype(np.float32)
    bg = (animator.layers.background * 255).astype(np.float32)
    assert (np.abs(rgb - bg).max(-1)[silhouette] > 1).mean() > 0.97
    # most of what shows comes from the photo itself, not the fill
    kind = out["kind"][out["covered"]]
    assert (kind == 1).mean() + (kind == 2).mean() > 0.7


def test_head_distance_zooms_the_frame_about_the_head(animator):
    """A log-scale of log(1.25) (0.8 times as far) magnifies the frame 1.25 times about the head centre:
    the eyes move apart by that factor, the head centre's pixel stays."""
    zd, zp = animator.portrait_latent
    near = np.array(zp, np.float32).copy()
    near[6] = np.log(1.25)
    eyes = []
    for p in (zp, near):
        lm = detect_landmarks(animator(zd, p)[0])
        eyes.append((lm[L.EYE_RIGHT_OUTER, :2], lm[L.EYE_LEFT_OUTER, :2]))
    span = [float(np.linalg.norm(a - b)) for a, b in eyes]
    assert span[1] / span[0] == pytest.approx(1.25, rel=0.03)
    import torch

    centre = animator.camera.project(torch.as_tensor(np.asarray(zp, np.float32)[None, 3:6]))[0].numpy()[0]
    mid = [0.5 * (a + b) for a, b in eyes]
    # the eyes' midpoint moves away from the head centre's pixel by 1.25 times its offset
    np.testing.assert_allclose(mid[1] - centre, 1.25 * (mid[0] - centre), atol=3.0)
