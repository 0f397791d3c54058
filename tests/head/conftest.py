import pytest
from skimage import data


@pytest.fixture(scope="session")
def head():
    from vasa3d.head import build_head

    return build_head()


@pytest.fixture(scope="session")
def astronaut_analysis():
    from vasa3d.face import analyze_portrait

    return analyze_portrait(data.astronaut(), size=512)


@pytest.fixture(scope="session")
def astronaut_fit(astronaut_analysis, head):
    from vasa3d.head import fit_portrait

    return fit_portrait(astronaut_analysis, head)
