import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def tiny_avatar(tmp_path_factory):
    """An untrained 1,500-Gaussian avatar of the astronaut at 96 px (built in a few seconds)."""
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import save_avatar

    path = tmp_path_factory.mktemp("avatar") / "tiny.vasa3d"
    analysis = analyze_portrait(data.astronaut(), size=96)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=1500, hidden=16, seed=0))
    save_avatar(path, avatar)
    return path


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory):
    """Two seconds of a 200 Hz tone with a loudness envelope, 16 kHz mono wav."""
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 200 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    sf.write(path, x, sr)
    return path
