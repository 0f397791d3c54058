"""The jawline seam metric on drawn images: a line along the jaw counts, a lit-to-shadow step does not."""

import numpy as np
import pytest

from vasa3d.eval.seam import jaw_seam

S = 200
CENTRE = np.array([100.0, 60.0])  # the "nose": the jaw arc lies below it
RADIUS = 60.0


def _arc(n: int = 17) -> np.ndarray:
    a = np.linspace(np.radians(20), np.radians(160), n)
    return np.stack([CENTRE[0] + RADIUS * np.cos(a), CENTRE[1] + RADIUS * np.sin(a)], 1)


def _image(inside: float, outside: float, line: float | None = None, line_px: float = 2.0) -> np.ndarray:
    """Grey levels: ``inside`` the jaw circle (chin), ``outside`` (neck), and a ring of ``line`` on the circle."""
    y, x = np.mgrid[0:S, 0:S] + 0.5
    r = np.hypot(x - CENTRE[0], y - CENTRE[1])
    lum = np.where(r < RADIUS, inside, outside)
    if line is not None:
        lum = np.where(np.abs(r - RADIUS) <= line_px / 2, line, lum)
    return np.repeat(lum[..., None], 3, -1).astype(np.float32)


def test_a_bright_line_along_the_jaw_is_measured_at_its_contrast():
    s = jaw_seam(_image(0.6, 0.4, line=0.9), _arc(), CENTRE)
    assert s["bright"] == pytest.approx(0.3, abs=0.03)  # 0.9 against the brighter side (0.6)
    assert s["dark"] < 0.01
    assert s["bright_share"] == 1.0


def test_a_dark_line_is_dark_not_bright():
    s = jaw_seam(_image(0.6, 0.5, line=0.2), _arc(), CENTRE)
    assert s["dark"] == pytest.approx(0.3, abs=0.03)
    assert s["bright"] < 0.01


def test_a_step_from_lit_chin_to_shadowed_neck_is_no_seam():
    s = jaw_seam(_image(0.8, 0.3), _arc(), CENTRE)
    assert s["seam"] < 0.01


def test_profiles_off_the_head_are_skipped():
    img = _image(0.6, 0.4, line=0.9)
    half = np.zeros((S, S), bool)
    half[:, :100] = True  # only the left half is "rendered"
    s = jaw_seam(img, _arc(), CENTRE, coverage=half)
    assert 0 < s["profiles"] < jaw_seam(img, _arc(), CENTRE)["profiles"]
    assert s["bright"] == pytest.approx(0.3, abs=0.03)
