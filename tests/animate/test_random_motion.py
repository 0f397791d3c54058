import numpy as np

from vasa3d.animate.random_motion import random_motion
from vasa3d.arkit import ARKIT_INDEX


def test_covers_a_wide_range_smoothly_and_deterministically():
    m = random_motion(25 * 120, seed=5)
    assert m.z_dyn.shape == (3000, 52) and m.z_pose.shape == (3000, 7)
    yaw, pitch = np.degrees(m.z_pose[:, 1]), np.degrees(m.z_pose[:, 0])
    assert yaw.max() > 30 and yaw.min() < -30 and np.abs(yaw).max() <= 40.0 + 1e-3
    assert pitch.max() > 12 and pitch.min() < -12 and np.abs(pitch).max() <= 20.0 + 1e-3
    assert np.abs(np.diff(yaw)).max() <= 120 / 25 + 1e-3  # no jumps between frames
    jaw = m.column("jawOpen")
    assert jaw.max() > 0.8 and (jaw > 0.3).mean() > 0.2 and (jaw < 0.05).mean() > 0.05
    # most expression channels are exercised over their range
    assert (m.z_dyn.max(0) > 0.5).sum() >= 40
    blinks = m.column("eyeBlinkLeft")
    n_blinks = int(((blinks[1:] >= 0.99) & (blinks[:-1] < 0.99)).sum())
    assert 20 <= n_blinks <= 80  # one every 1.5-6 s over two minutes
    assert np.array_equal(random_motion(200, seed=5).z_dyn, random_motion(200, seed=5).z_dyn)
    assert not np.array_equal(random_motion(200, seed=6).z_pose, random_motion(200, seed=5).z_pose)
    assert 0.0 <= m.z_dyn.min() and m.z_dyn.max() <= 1.0
    # gaze moves both eyes the same way
    h_left = m.column("eyeLookOutLeft") - m.column("eyeLookInLeft")
    h_right = m.column("eyeLookInRight") - m.column("eyeLookOutRight")
    np.testing.assert_allclose(h_left, h_right, atol=1e-6)
    assert ARKIT_INDEX["jawOpen"] == 17


def test_head_distance_varies_within_its_range_and_leaves_the_rest_as_it_was():
    from vasa3d.animate.random_motion import RandomMotionConfig

    m = random_motion(25 * 60, seed=5)
    distance = np.exp(-m.column("log_scale"))
    assert distance.min() < 0.93 and distance.max() > 1.07 and np.all(np.abs(np.log(distance)) <= 0.1 + 1e-6)
    assert np.abs(np.diff(np.log(distance))).max() < 0.01  # slow drift, no jumps
    still = random_motion(25 * 60, seed=5, config=RandomMotionConfig(log_distance=0.0))
    assert np.all(still.column("log_scale") == 0)
    assert np.array_equal(still.z_pose[:, :6], m.z_pose[:, :6]) and np.array_equal(still.z_dyn, m.z_dyn)
