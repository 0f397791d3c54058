import numpy as np
import pytest
from skimage import data, io

from vasa3d.cli import main


def test_head_preview_of_mean_head(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["head", "preview", "-o", str(out), "--tile", "96", "--quiet"]) == 0
    sheet = io.imread(out)
    # neutral + 52 blendshapes + 11 extremes = 64 tiles in an 8 x 8 grid
    assert sheet.shape[:2] == (8 * 96, 8 * 96)
    tiles = sheet.reshape(8, 96, 8, 96, -1)[..., :3].transpose(0, 2, 1, 3, 4).reshape(64, 96, 96, 3).astype(float)
    # jawOpen's tile differs from the neutral one much more than eyeBlinkLeft's... and every tile is drawn
    diff = np.abs(tiles - tiles[0]).mean(axis=(1, 2, 3))
    assert diff[1 + 17] > diff[1 + 0] > 0
    assert (tiles.std(axis=(1, 2, 3)) > 10).all()


def test_head_preview_fits_a_portrait(tmp_path):
    src = tmp_path / "astronaut.png"
    io.imsave(src, data.astronaut())
    out, ov = tmp_path / "sheet.png", tmp_path / "overlay.png"
    assert main(["head", "preview", str(src), "-o", str(out), "--overlay", str(ov), "--tile", "64", "-q"]) == 0
    assert io.imread(ov).shape == (512, 3 * 512, 3)


def test_preview_bad_output(tmp_path, capsys):
    assert main(["head", "preview", "-o", str(tmp_path / "missing" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["head", "preview", "-o", str(tmp_path / "x.jpg")]) == 2


def test_track_command(tmp_path, capsys):
    import av

    from vasa3d.face import analyze_portrait
    from vasa3d.face.synthetic import demo_motion, warp_frames
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.head.arkit_io import read_arkit
    from vasa3d.motion.latent import MotionLatent

    head = build_head()
    a = analyze_portrait(data.astronaut(), size=192)
    z, pose = demo_motion(10)
    frames = warp_frames(a.image, fit_portrait(a, head), head, z, pose)
    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as f:
        s = f.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 192, 192, "yuv420p"
        for fr in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                f.mux(pkt)
        for pkt in s.encode():
            f.mux(pkt)
    out = tmp_path / "motion.npz"
    assert main(["track", str(video), "-o", str(out), "--smoothing", "0.5", "-q"]) == 0
    m = MotionLatent.load(out)
    assert len(m) == 10 and m.fps == 25
    csv = tmp_path / "motion.csv"
    assert main(["track", str(video), "-o", str(csv), "-q"]) == 0
    assert len(read_arkit(csv)) == 10
    assert main(["track", str(tmp_path / "nope.mp4"), "-o", str(out)]) == 2
    assert main(["track", str(video), "-o", str(tmp_path / "m.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2
