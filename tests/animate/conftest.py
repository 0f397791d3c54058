import numpy as np
import pytest
import skimage.data


@pytest.fixture(scope="session")
def astronaut_fit():
    """The astronaut portrait analysed and the built-in head fitted to it."""
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    analysis = analyze_portrait(skimage.data.astronaut(), size=512)
    head = build_head(None)
    return analysis, head, fit_portrait(analysis, head)


@pytest.fixture(scope="session")
def animator(astronaut_fit):
    from vasa3d.animate import MeshWarpAnimator

    analysis, head, fit = astronaut_fit
    return MeshWarpAnimator(analysis, fit, head)


def with_pose(z_pose, yaw_deg=0.0, pitch_deg=0.0):
    p = np.array(z_pose, np.float32).copy()
    p[0] += np.radians(pitch_deg)
    p[1] += np.radians(yaw_deg)
    return p
