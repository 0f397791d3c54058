import os

# before anything imports torch: see vasa3d/__init__.py
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache"))


import pytest  # noqa: E402

def pytest_collection_modifyitems(config, items):
    """Tests marked ``runs_first`` before the rest, which keep their order (the sort is stable)."""
    items.sort(key=lambda item: item.get_closest_marker("runs_first") is None)


@pytest.fixture(scope="session")
def astronaut_avatar(tmp_path_factory):
    """An untrained avatar of the astronaut, saved as a .vasa3d with its portrait layers (seconds, not minutes).

    10,000 Gaussians on the fitted head coloured from the photo; the base MLPs start at zero, so the
    ARKit weights and head pose drive the mesh exactly as the head model says.
    """
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.face.backdrop import portrait_tensors
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import save_avatar

    image = data.astronaut()
    analysis = analyze_portrait(image, size=256)
    head = build_head(None)
    avatar = GaussianAvatar.from_portrait(head, fit_portrait(analysis, head), analysis, AvatarConfig.preset("demo"))
    avatar.portrait = portrait_tensors(image, analysis)
    return save_avatar(tmp_path_factory.mktemp("avatar") / "astronaut.vasa3d", avatar)
