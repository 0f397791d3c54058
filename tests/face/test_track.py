import av
import numpy as np
import pytest
from skimage import data

from vasa3d.arkit import ARKIT_INDEX
from vasa3d.errors import FaceNotFoundError, InputError
from vasa3d.face import analyze_portrait, track_video, track_video_detailed
from vasa3d.face.synthetic import demo_motion, warp_frames

T = 40


@pytest.fixture(scope="module")
def clip():
    from vasa3d.head import build_head, fit_portrait

    head = build_head()
    a = analyze_portrait(data.astronaut(), size=256)
    fit = fit_portrait(a, head)
    z, pose = demo_motion(T)
    return warp_frames(a.image, fit, head, z, pose), z, pose, head


@pytest.fixture(scope="module")
def tracked(clip):
    frames, _, _, head = clip
    return track_video_detailed(list(frames), head)


def test_tracking_reproduces_landmarks(tracked):
    err = tracked.reprojection_error()
    print(f"tracking reprojection error: mean {np.nanmean(err):.4f}, max {np.nanmax(err):.4f} of face width")
    assert tracked.found.all()
    # Done-when: re-rendering the tracked parameters reproduces the landmarks within 2% of face size
    assert np.nanmean(err) <= 0.02
    assert np.nanmax(err) <= 0.03


def test_tracking_follows_the_driving_motion(tracked, clip):
    _, z, pose, _ = clip
    m = tracked.motion
    assert m.z_dyn.shape == (T, 52) and m.z_pose.shape == (T, 7) and m.fps == 25.0
    jaw = np.corrcoef(m.column("jawOpen"), z[:, ARKIT_INDEX["jawOpen"]])[0, 1]
    yaw = np.corrcoef(m.z_pose[:, 1], pose[:, 1])[0, 1]
    roll = np.corrcoef(m.z_pose[:, 2], pose[:, 2])[0, 1]
    assert jaw > 0.85 and yaw > 0.9 and roll > 0.8, (jaw, yaw, roll)
    # the yaw swing has the right size (+-0.15 rad driven)
    assert 0.2 < np.ptp(m.z_pose[:, 1]) < 0.45
    # the blink in the middle of the clip is seen, and only there (the warp only half-closes the eye
    # in mediapipe's eyes: its lid landmarks close to ~80% of open, so the weight stays moderate)
    blink = m.column("eyeBlinkLeft")
    assert blink[T // 2 - 1: T // 2 + 2].max() > 0.12 and blink[:5].max() < 0.05


def test_smoothing_reduces_jitter(clip, tracked):
    raw = tracked.raw_expression[:, ARKIT_INDEX["jawOpen"]]
    smooth = tracked.motion.column("jawOpen")
    assert np.abs(np.diff(smooth, 2)).mean() < np.abs(np.diff(raw, 2)).mean()


def test_track_video_file(tmp_path, clip):
    frames = clip[0][:12]
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=30)
        s.width, s.height, s.pix_fmt = 256, 256, "yuv420p"
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    m = track_video(path)
    assert len(m) == 12 and m.fps == pytest.approx(30.0)


def test_bad_videos(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(InputError):
        track_video(bad)
    with pytest.raises(InputError):
        track_video(tmp_path / "missing.mp4")
    grey = np.full((5, 128, 128, 3), 128, np.uint8)
    with pytest.raises(FaceNotFoundError):
        track_video(list(grey))


def test_bad_settings_refused(clip):
    from vasa3d.face import TrackConfig

    with pytest.raises(InputError, match="out of range"):
        track_video(list(clip[0][:2]), config=TrackConfig(smoothing=-1))



def test_mouth_close_never_exceeds_jaw_open():
    """ARKit's mouthClose closes an open jaw's lips.  Left free, the 2D fit read the closed mouth of a
    meshwarp-animated astronaut as mouthClose = 1 with jawOpen ~0.1 (paired with mouthFunnel), and an
    avatar driven by that kept its lips shut (issue 13); bounded, the jaw still follows."""
    from vasa3d.animate import make_animator
    from vasa3d.head import build_head, fit_portrait

    head = build_head()
    a = analyze_portrait(data.astronaut(), size=256)
    fit = fit_portrait(a, head)
    animator = make_animator("meshwarp", a, fit, head)
    n = 16
    driven = 0.4 * np.sin(np.linspace(0, 2 * np.pi, n)).clip(0)  # open and close, then stay closed
    z = np.zeros((n, 52), np.float32)
    z[:, ARKIT_INDEX["jawOpen"]] = driven
    frames = [animator(z[t], np.zeros(7, np.float32), fit.camera)[0] for t in range(n)]
    m = track_video(frames, head)
    close, jaw = m.column("mouthClose"), m.column("jawOpen")
    print(f"mouthClose - jawOpen max {(close - jaw).max():.3f}; jaw r {np.corrcoef(jaw, driven)[0, 1]:.3f}")
    assert np.all(close <= jaw + 1e-6)
    assert np.corrcoef(jaw, driven)[0, 1] > 0.95
