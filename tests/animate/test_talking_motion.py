import numpy as np

from vasa3d.animate.random_motion import random_motion
from vasa3d.animate.talking_motion import mixed_motion, talking_motion
from vasa3d.arkit import ARKIT_INDEX


def test_talking_motion_talks_blinks_and_keeps_natural_head_poses():
    m = talking_motion(500, seed=3)
    assert m.z_dyn.shape == (500, 52) and m.z_pose.shape == (500, 7) and m.fps == 25.0
    again = talking_motion(500, seed=3)
    assert np.array_equal(m.z_dyn, again.z_dyn) and np.array_equal(m.z_pose, again.z_pose)
    assert not np.array_equal(m.z_dyn, talking_motion(500, seed=4).z_dyn)
    jaw = m.z_dyn[:, ARKIT_INDEX["jawOpen"]]
    # speech opens and closes the mouth several times a second
    crossings = np.count_nonzero(np.diff((jaw > 0.5 * jaw.max()).astype(int)) == 1)
    assert crossings / (500 / 25.0) > 1.5
    blink = m.z_dyn[:, ARKIT_INDEX["eyeBlinkLeft"]]
    assert np.count_nonzero(np.diff((blink > 0.5).astype(int)) == 1) >= 2  # 20 s: blinks go on
    # talking turns the head, but within natural ranges
    degrees = np.degrees(np.abs(m.z_pose[:, :3]))
    assert degrees.max() < 25.0 and degrees.std(0).min() > 0.3
    # emotions vary between clips: smiles in some frames, none in others
    smile = m.z_dyn[:, ARKIT_INDEX["mouthSmileLeft"]]
    assert smile.max() > 0.2
    # each clip is at its own head distance, 0.9-1.1
    distance = np.exp(-m.column("log_scale"))
    assert len(np.unique(distance)) >= 2 and 0.9 - 1e-6 <= distance.min() and distance.max() <= 1.1 + 1e-6


def test_mixed_motion_alternates_talking_and_wide_blocks():
    m = mixed_motion(600, seed=0, talking=0.5, block=50)
    assert m.z_dyn.shape == (600, 52)
    yaw = np.degrees(np.abs(m.z_pose[:, 1])).reshape(12, 50).max(1)
    wide = yaw > 25.0
    assert 3 <= wide.sum() <= 9  # about half the blocks turn the head far
    assert np.degrees(np.abs(m.z_pose[:, 1])).max() > 30.0
    again = mixed_motion(600, seed=0, talking=0.5, block=50)
    assert np.array_equal(m.z_pose, again.z_pose)
    assert np.array_equal(mixed_motion(200, seed=1, talking=0.0).z_pose, random_motion(200, seed=1).z_pose)
