import numpy as np
import pytest
from skimage import data, transform

from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.face import analyze_portrait, detect_landmarks
from vasa3d.face import landmarks as L
from vasa3d.face.portrait import FRONTAL_BAND


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def analysis(astronaut):
    return analyze_portrait(astronaut, size=512)


def test_astronaut_crop_is_aligned_and_framed(analysis):
    a = analysis
    assert a.image.shape == (512, 512, 3) and a.image.dtype == np.uint8
    assert a.landmarks.shape == (478, 3) and a.landmarks.dtype == np.float32
    assert a.n_faces == 1 and a.warnings == []
    # face about half the crop, eyes level, face horizontally centred
    assert 0.45 <= L.face_width(a.landmarks) / 512 <= 0.55
    r, l = L.eye_centres(a.landmarks)
    assert abs(l[1] - r[1]) < 0.01 * 512
    assert abs((r[0] + l[0]) / 2 - 256) < 0.05 * 512
    # subject's right eye on the image's left
    assert r[0] < l[0]
    # eyes in the upper half, chin in the lower half: hair and some neck both fit
    assert 0.2 * 512 < r[1] < 0.45 * 512
    assert 0.6 * 512 < a.landmarks[L.CHIN, 1] < 0.9 * 512


def test_crop_box_and_transform_agree(analysis, astronaut):
    a = analysis
    x0, y0, x1, y1 = a.crop_box
    assert x1 - x0 == pytest.approx(y1 - y0)
    # the face in the source (detector box x 0.34..0.54 of the width) sits inside the crop box
    assert x0 < 0.34 * 512 and x1 > 0.54 * 512
    # transform maps the source landmarks onto the crop landmarks
    src = detect_landmarks(astronaut)
    mapped = src[:, :2] @ a.transform[:, :2].T + a.transform[:, 2]
    err = np.linalg.norm(mapped - a.landmarks[:, :2], axis=1).mean()
    assert err < 0.03 * L.inter_ocular(a.landmarks)


def test_mask_covers_face_not_background(analysis):
    a = analysis
    m = a.mask
    assert m.shape == (512, 512) and m.dtype == np.float32
    nose = a.landmarks[L.NOSE_TIP, :2].astype(int)
    assert m[nose[1], nose[0]] > 0.9
    # the astronaut's backdrop: top corners are background
    assert m[:40, :40].mean() < 0.2 and m[:40, -40:].mean() < 0.2


def test_largest_of_several_faces_with_warning(astronaut):
    big = astronaut[:300, 100:400]
    small = (transform.rescale(big, 0.6, channel_axis=2) * 255).astype(np.uint8)
    canvas = np.full((300, 600, 3), 200, np.uint8)
    canvas[:, :300] = big
    canvas[:small.shape[0], 350:350 + small.shape[1]] = small
    a = analyze_portrait(canvas, size=256)
    assert a.n_faces == 2
    assert len(a.warnings) == 1 and "2 faces" in a.warnings[0]
    # it picked the big face: the crop box lies on the left half
    assert (a.crop_box[0] + a.crop_box[2]) / 2 < 300


def test_no_face_is_refused_in_one_line():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with pytest.raises(FaceNotFoundError) as e:
        analyze_portrait(noise)
    assert "\n" not in str(e.value) and "no face" in str(e.value)
    assert detect_landmarks(noise) is None


def test_small_face_is_refused(astronaut):
    tiny = (transform.rescale(astronaut, 0.25, channel_axis=2) * 255).astype(np.uint8)  # face ~ 26 px
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[100:228, 100:228] = tiny
    with pytest.raises(FaceNotFoundError) as e:
        analyze_portrait(canvas)
    assert "\n" not in str(e.value)


def test_profile_measure(analysis):
    lm = analysis.landmarks.copy()
    assert FRONTAL_BAND[0] < L.frontalness(lm) < FRONTAL_BAND[1]
    lm[L.NOSE_TIP, 0] = lm[L.CHEEK_RIGHT, 0] + 0.05 * (lm[L.CHEEK_LEFT, 0] - lm[L.CHEEK_RIGHT, 0])
    assert L.frontalness(lm) < FRONTAL_BAND[0]


def test_profile_view_is_refused(astronaut, monkeypatch):
    import vasa3d.face.portrait as P

    real = P._largest_mesh

    def turned(result, w, h):
        lm, n = real(result, w, h)
        if lm is not None:  # a head turned ~80 degrees: the nose tip reaches the cheek line
            lm = lm.copy()
            lm[L.NOSE_TIP, :2] = lm[L.CHEEK_RIGHT, :2]
        return lm, n

    monkeypatch.setattr(P, "_largest_mesh", turned)
    with pytest.raises(FaceNotFoundError, match="profile"):
        analyze_portrait(astronaut)


def test_grey_portrait_is_accepted(astronaut):
    grey = (astronaut.mean(2)).astype(np.uint8)
    a = analyze_portrait(grey, size=256)
    assert a.image.shape == (256, 256, 3) and a.n_faces == 1


def test_detectors_are_per_thread():
    import threading

    from vasa3d.face import detectors

    here = detectors.face_mesh(4)
    assert detectors.face_mesh(4) is here
    other = []
    t = threading.Thread(target=lambda: other.append(detectors.face_mesh(4)))
    t.start()
    t.join()
    assert other[0] is not here


@pytest.mark.parametrize("bad", [np.zeros((64, 64, 2), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((8, 8, 3), np.uint8)])
def test_bad_arrays_are_input_errors(bad):
    with pytest.raises(InputError):
        analyze_portrait(bad)
