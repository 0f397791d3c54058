import numpy as np
import pytest
import skimage.data
import skimage.transform

from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.eval.identity import SAME_PERSON_THRESHOLD, face_descriptor, identity_distance


@pytest.fixture(scope="module")
def astronaut():
    return skimage.data.astronaut()


def _u8(x):
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def test_same_image_is_zero(astronaut):
    d = face_descriptor(astronaut)
    assert d.shape == (128,) and 0.5 < np.linalg.norm(d) < 3.0
    assert identity_distance(astronaut, astronaut) < 1e-6


def test_same_face_changed_image_stays_close(astronaut):
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    scaled = _u8(skimage.transform.rescale(astronaut, 0.7, channel_axis=-1))
    assert 0.0 < identity_distance(astronaut, flipped) < 0.35
    assert 0.0 < identity_distance(astronaut, scaled) < 0.3


def test_other_or_distorted_face_is_far(astronaut):
    # the cameraman (another person; his face is small, so upscale for the detector)
    cameraman = _u8(skimage.transform.rescale(skimage.data.camera(), 2))
    assert identity_distance(astronaut, cameraman) > SAME_PERSON_THRESHOLD
    swirled = _u8(skimage.transform.swirl(astronaut, center=(230, 110), strength=6, radius=120))
    assert identity_distance(astronaut, swirled) > SAME_PERSON_THRESHOLD


def test_no_face_and_bad_input(astronaut):
    with pytest.raises(FaceNotFoundError):
        identity_distance(astronaut, np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(InputError):
        face_descriptor(astronaut.astype(np.float32))
    # an explicit box works where the detector is not asked
    assert identity_distance(astronaut, astronaut, box_b=(175, 76, 265, 166)) < 0.05
