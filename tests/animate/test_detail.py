import numpy as np

from vasa3d.animate.detail import hair_detail


def test_hair_detail_is_the_fine_structure_of_the_hair_patch():
    rng = np.random.default_rng(0)
    S = 128
    img = np.full((S, S, 3), 0.4, np.float32)
    stripes = 0.08 * np.sin(np.arange(S) * 2 * np.pi / 4)[None, :]  # fine vertical strands
    img[20:60, 30:100] += stripes[..., None][:, 30:100]
    mask = np.ones((S, S), np.float32)
    uv = np.stack([rng.uniform(30, 100, 200), rng.uniform(20, 60, 200)], 1)
    d = hair_detail(img, mask, uv)
    assert d.shape[0] >= 15 and d.shape[1] >= 30
    assert abs(float(d.mean())) < 1e-3 and 0.03 < d.std() < 0.08
    # across the strands the detail alternates, along them it is constant
    assert np.abs(np.diff(d, axis=1)).mean() > 10 * np.abs(np.diff(d, axis=0)).mean()
    assert not hair_detail(img, mask, uv, strength=0).any()
    assert not hair_detail(img, mask * 0, uv).any()  # no hair in the mask: nothing
    assert not hair_detail(img, mask, uv[:3]).any()  # too few hair points: nothing
