import numpy as np
import torch

from vasa3d.face import landmarks as L


def test_astronaut_fit_error_under_two_percent(astronaut_fit, astronaut_analysis):
    fit = astronaut_fit
    # the Done-when line: mean 2D landmark error <= 2% of the inter-ocular distance
    assert fit.landmark_error <= 0.02, fit.landmark_error
    assert fit.camera.width == fit.camera.height == 512
    # the camera sits in front of the face, about a metre away (14-degree prior FOV)
    pos = fit.camera.position
    assert pos[2] > 0.5 and abs(pos[0]) < 0.2
    assert 0.6 < fit.camera.K[0, 0].item() / 2085 < 1.5
    # canonical pose: the camera carries the pose
    assert fit.params.rotation.abs().max() == 0 and fit.params.translation.abs().max() == 0


def test_fit_reprojects_landmarks(astronaut_fit, astronaut_analysis, head):
    fit = astronaut_fit
    uv, depth = fit.camera.project(head.landmarks(fit.params)[0])
    err = (uv - torch.as_tensor(astronaut_analysis.landmarks[:, :2])).norm(dim=-1).mean().item()
    assert err / L.inter_ocular(astronaut_analysis.landmarks) == np.float32(fit.landmark_error) or abs(
        err / L.inter_ocular(astronaut_analysis.landmarks) - fit.landmark_error) < 1e-4
    assert (depth > 0).all()


def test_fit_finds_the_open_smiling_mouth(astronaut_fit):
    from vasa3d.arkit import ARKIT_INDEX

    e = astronaut_fit.params.expression[0]
    # the astronaut smiles with parted lips: the jaw is open a little, the eyes are open
    assert e[ARKIT_INDEX["jawOpen"]] > 0.1
    assert e[ARKIT_INDEX["eyeBlinkLeft"]] < 0.3 and e[ARKIT_INDEX["eyeBlinkRight"]] < 0.3


def test_fit_follows_a_turned_open_mouthed_face(astronaut_analysis, astronaut_fit, head):
    """Warp the portrait to a head turned 20 degrees to its left with the jaw opened: the fit sees both."""
    import math

    from vasa3d.arkit import ARKIT_INDEX
    from vasa3d.face import analyze_portrait
    from vasa3d.face.synthetic import warp_frames
    from vasa3d.head import fit_portrait

    z = np.zeros((1, 52), np.float32)
    z[0, ARKIT_INDEX["jawOpen"]] = 0.4
    pose = np.zeros((1, 7), np.float32)
    pose[0, 1] = 0.35
    frame = warp_frames(astronaut_analysis.image, astronaut_fit, head, z, pose)[0]
    fit = fit_portrait(analyze_portrait(frame, size=512), head)
    assert fit.landmark_error < 0.03
    jaw0 = astronaut_fit.params.expression[0, ARKIT_INDEX["jawOpen"]].item()
    assert fit.params.expression[0, ARKIT_INDEX["jawOpen"]].item() > jaw0 + 0.15

    def yaw(cam):
        x, _, zc = cam.position.tolist()
        return math.atan2(x, zc)

    # the head turned toward +x, so in the head's frame the camera moved toward -x by about 0.35 rad
    turn = yaw(fit.camera) - yaw(astronaut_fit.camera)
    assert -0.5 < turn < -0.2, turn
