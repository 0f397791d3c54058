import pytest
from skimage import data


@pytest.fixture(scope="session")
def astronaut_fit():
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    analysis = analyze_portrait(data.astronaut(), size=256)
    head = build_head(None)
    return head, fit_portrait(analysis, head), analysis


def _avatar(fit, tmp_path_factory, n):
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.io import save_avatar

    head, fitted, analysis = fit
    avatar = GaussianAvatar.from_portrait(head, fitted, analysis, AvatarConfig(num_gaussians=n))
    path = tmp_path_factory.mktemp("live") / f"astronaut-{n}.vasa3d"
    save_avatar(path, avatar)
    return path


@pytest.fixture(scope="session")
def astronaut_20k(astronaut_fit, tmp_path_factory):
    """An untrained avatar of the astronaut, 20,000 Gaussians as cpu-quick makes: its base deformation
    already opens the mouth and turns the head, which is what the lip-sync test measures."""
    return _avatar(astronaut_fit, tmp_path_factory, 20000)


@pytest.fixture(scope="session")
def small_avatar(astronaut_fit, tmp_path_factory):
    """The same with 2,000 Gaussians: for the tests that read latents, counts and small frames."""
    return _avatar(astronaut_fit, tmp_path_factory, 2000)
