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
