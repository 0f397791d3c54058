"""``vasa3d render`` and ``vasa3d reenact``: motion files and driving videos drive an avatar."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.cli import main
from vasa3d.face import detect_landmarks
from vasa3d.face import landmarks as L
from vasa3d.io import probe_video, read_video_frames
from vasa3d.motion.latent import MotionLatent

FPS = 30
T = 45  # 1.5 s at 30 fps


def _bump(t, centre, width):
    x = np.clip((t - centre) / width, -1, 1)
    return 0.5 * (1 + np.cos(np.pi * x))


def _curves():
    t = np.arange(T, dtype=np.float64)
    jaw = 0.7 * (_bump(t, 10, 7) + _bump(t, 32, 6))
    blink = _bump(t, 22, 4)  # both eyes close while the mouth is shut
    return jaw, blink


def _live_link_face_csv(path):
    """A take as Live Link Face writes it: timecode HH:MM:SS:FF.mmm, BlendShapeCount, 52 capitalised
    ARKit names, then head and eye rotations (radians)."""
    jaw, blink = _curves()
    names = [n[0].upper() + n[1:] for n in ARKIT_NAMES]
    extra = ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
             "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    lines = [",".join(["Timecode", "BlendShapeCount", *names, *extra])]
    for i in range(T):
        w = np.zeros(len(ARKIT_NAMES))
        w[ARKIT_NAMES.index("jawOpen")] = jaw[i]
        w[ARKIT_NAMES.index("eyeBlinkLeft")] = w[ARKIT_NAMES.index("eyeBlinkRight")] = blink[i]
        s, f = divmod(i, FPS)
        stamp = f"17:42:{10 + s:02d}:{f:02d}.{(i * 37) % 1000:03d}"
        lines.append(",".join([stamp, "61", *(f"{x:.6f}" for x in w), *(["0.000000"] * len(extra))]))
    path.write_text("\r\n".join(lines) + "\r\n")
    return jaw, blink


def _measure(frames):
    gaps, eyes = [], []
    for frame in frames:
        lm = detect_landmarks(frame)
        assert lm is not None, "the rendered face must be found in every frame"
        iod = L.inter_ocular(lm)
        gaps.append(L.lip_gap(lm) / iod)
        eyes.append((L.eye_aperture(lm, "left") + L.eye_aperture(lm, "right")) / (2 * iod))
    return np.array(gaps), np.array(eyes)


@pytest.fixture(scope="module")
def astronaut_avatar_v1(tmp_path_factory):
    """The untrained astronaut avatar on the built-in head's version 1 (no hair shell: her hair is the photo's)."""
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.face.backdrop import portrait_tensors
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import save_avatar

    analysis = analyze_portrait(data.astronaut(), size=256)
    head = build_head({"kind": "builtin", "version": 1})
    avatar = GaussianAvatar.from_portrait(head, fit_portrait(analysis, head), analysis, AvatarConfig.preset("demo"))
    avatar.portrait = portrait_tensors(data.astronaut(), analysis)
    return save_avatar(tmp_path_factory.mktemp("avatar_v1") / "astronaut.vasa3d", avatar)


@pytest.fixture(scope="module")
def csv_render(astronaut_avatar_v1, tmp_path_factory):
    # the untrained avatar on the bare head: on the hair shell's untrained blur of hair mediapipe's eyelid
    # landmarks lose half their blink (r -0.74); trained avatars measure r -0.99 on either head (docs/head.md)
    astronaut_avatar = astronaut_avatar_v1
    d = tmp_path_factory.mktemp("render")
    jaw, blink = _live_link_face_csv(d / "take.csv")
    sr = 16000
    sf.write(d / "sound.wav", 0.2 * np.sin(np.linspace(0, 2 * np.pi * 220 * T / FPS, sr * T // FPS)), sr)
    out = d / "take.mp4"
    assert main(["render", str(astronaut_avatar), str(d / "take.csv"), "-o", str(out), "--size", "256",
                 "--audio", str(d / "sound.wav"), "-q"]) == 0
    return out, jaw, blink


def test_live_link_face_csv_plays_at_its_rate_with_the_sound(csv_render):
    out, _, _ = csv_render
    info = probe_video(out)
    assert info["video"]["fps"] == pytest.approx(FPS) and info["video"]["frames"] == T
    assert info["video"]["width"] == 256 and info["audio"]["codec"] == "aac"
    assert info["audio"]["duration"] == pytest.approx(T / FPS, abs=0.05)


def test_jaw_and_blink_curves_are_measured_back_on_the_frames(csv_render):
    out, jaw, blink = csv_render
    frames, _ = read_video_frames(out)
    gaps, eyes = _measure(frames)
    r_jaw = np.corrcoef(gaps, jaw)[0, 1]
    r_eye = np.corrcoef(eyes, blink)[0, 1]
    print(f"lip gap vs jawOpen r = {r_jaw:.3f}; eye aperture vs eyeBlink r = {r_eye:.3f}; "
          f"gap shut {gaps[jaw < 0.01].mean():.3f} open {gaps[jaw > 0.6].mean():.3f}; "
          f"eyes open {eyes[blink < 0.01].mean():.3f} closed {eyes[blink > 0.9].mean():.3f}")
    assert r_jaw >= 0.9
    assert r_eye <= -0.8
    assert gaps[jaw > 0.6].mean() > 3 * gaps[jaw < 0.01].mean() + 0.05
    assert eyes[blink > 0.9].mean() < 0.6 * eyes[blink < 0.01].mean()


def test_npz_json_and_csv_are_one_motion(astronaut_avatar, tmp_path):
    """The three formats of the same take give the same frames."""
    from vasa3d.drive import RenderConfig, render_frames
    from vasa3d.head.arkit_io import write_arkit_json
    from vasa3d.io import load_avatar
    from vasa3d.motion.files import read_motion

    _live_link_face_csv(tmp_path / "take.csv")
    csv = read_motion(tmp_path / "take.csv")
    assert csv.fps == FPS and len(csv) == T
    short = csv.slice(8, 11)
    short.save(tmp_path / "take.npz")
    write_arkit_json(tmp_path / "take.json", short)
    avatar = load_avatar(astronaut_avatar)
    config = RenderConfig(size=96)
    ref = list(render_frames(avatar, short, config, quiet=True))
    for name in ("take.npz", "take.json"):
        m = read_motion(tmp_path / name)
        assert m.fps == FPS
        frames = list(render_frames(avatar, m, config, quiet=True))
        assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(frames, ref)) <= 1


@pytest.mark.parametrize("content, message", [
    ("Timecode,Foo\n00:00:00:00.000,1\n", "ARKit CSV"),
    ("", "no frames"),
])
def test_bad_motion_file_is_one_line(astronaut_avatar, tmp_path, capsys, content, message):
    (tmp_path / "bad.csv").write_text(content)
    out = tmp_path / "x.mp4"
    assert main(["render", str(astronaut_avatar), str(tmp_path / "bad.csv"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not out.exists()


def test_motion_of_another_schema_is_refused(astronaut_avatar, tmp_path, capsys):
    m = MotionLatent(np.zeros((3, 4)), np.zeros((3, 7)), 25.0, "kp4", ("a", "b", "c", "d"))
    m.save(tmp_path / "kp.npz")
    assert main(["render", str(astronaut_avatar), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "x.mp4")]) == 2
    assert "trained on 52 + 7" in capsys.readouterr().err


def _psnr(a, b, mask):
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2)[mask].mean()
    return 10 * np.log10(255.0 ** 2 / max(err, 1e-12))


def test_portrait_background_is_the_photo_outside_the_avatar(astronaut_avatar, tmp_path):
    """With the hair shell the avatar carries the hair; everywhere it does not reach, the frame is the photo's
    crop: the backdrop (wall, suit, collar) moved nothing at rest."""
    import cv2
    import torch
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.io import load_avatar, load_image
    from vasa3d.pipeline import view_camera
    from vasa3d.render import rasterize

    size = 256
    MotionLatent.neutral(2).save(tmp_path / "still.npz")
    assert main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(tmp_path / "f"),
                 "--size", str(size), "--background", "portrait", "-q"]) == 0
    frame = load_image(tmp_path / "f" / "frame_00000.png")
    avatar = load_avatar(astronaut_avatar)
    assert avatar.head.n_hair > 0
    with torch.no_grad():
        g = avatar(torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim))[0]
        cam = view_camera(avatar.camera, avatar.head_center.detach().reshape(3), 0.0, 0.0, size)
        alpha = rasterize(g, cam, size, size).alpha[0, ..., 0].numpy()
    outside = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    crop = analyze_portrait(data.astronaut(), size=size)
    psnr = _psnr(frame, crop.image, outside)
    print(f"portrait background PSNR outside the avatar {psnr:.2f} dB over {outside.mean():.0%} of the frame")
    assert outside.mean() > 0.3 and psnr >= 35.0


@pytest.mark.parametrize("version", [2, 1])
def test_portrait_background_is_the_photo_outside_the_face(astronaut_avatar, astronaut_avatar_v1, version,
                                                           tmp_path):
    """At the portrait's own view and a neutral face the frame is the photo's crop outside the face: on the
    hair shell the photo's hair detail rides on the shell (version 2), on the bare head the hair is the photo's
    body layer (version 1)."""
    import cv2
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.io import save_image

    astronaut_avatar = astronaut_avatar if version == 2 else astronaut_avatar_v1
    size = 256
    MotionLatent.neutral(2).save(tmp_path / "still.npz")
    out = tmp_path / "frames"
    assert main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(out), "--size", str(size),
                 "--background", "portrait", "-q"]) == 0  # no suffix: PNG frames, no video coding loss
    from vasa3d.io import load_image

    frame = load_image(out / "frame_00000.png")
    crop = analyze_portrait(data.astronaut(), size=size)
    face = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(crop.landmarks[:, :2].astype(np.int32)), 1)
    outside = face == 0
    psnr = _psnr(frame, crop.image, outside)
    black = main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(tmp_path / "b.mp4"),
                  "--size", str(size), "-q"])
    frames_black, _ = read_video_frames(tmp_path / "b.mp4")
    print(f"portrait background PSNR outside the face {psnr:.2f} dB (black: "
          f"{_psnr(frames_black[0], crop.image, outside):.2f} dB)")
    save_image(tmp_path / "side.png", np.concatenate([crop.image, frame], 1))
    # issue 13: >= 25 dB (on these untrained fixtures 26.6 on the hair shell, 27.5 on the bare head: the
    # photo's own neck and collar, the avatar's neck faded into them; the hair the photo's, on the shell or
    # in the body layer; without the shell's detail the untrained hair's blur gave 19.4; before the detail
    # faded in toward the face and the frame's edge, 27.4 on the shell, with a hard arc across the forehead)
    assert black == 0 and psnr >= 25.0
    assert _psnr(frames_black[0], crop.image, outside) < 15


def test_portrait_background_hair_detail_leaves_no_seam_on_the_forehead(astronaut_avatar):
    """The photo's hair detail rides on the hair shell; where the shell meets the face it fades in (size/40 px)
    instead of stopping at the shell's edge, which drew a hard arc across the forehead (the fringe cut off):
    the luminance step between neighbouring pixels across that edge is the photo's own (8 on this crop; the
    hard edge made it 33)."""
    import cv2
    import torch

    from vasa3d.drive import RenderConfig, render_frames
    from vasa3d.head.hair import hair_faces
    from vasa3d.io import load_avatar
    from vasa3d.pipeline import view_camera
    from vasa3d.train.regions import mesh_raster

    size = 256
    avatar = load_avatar(astronaut_avatar)
    rest = next(iter(render_frames(avatar, MotionLatent.neutral(1), RenderConfig(size=size, background="portrait"),
                                   quiet=True))).astype(np.float32)
    zd, zp = torch.zeros(1, avatar.dyn_dim), torch.zeros(1, avatar.pose_dim)
    with torch.no_grad():
        verts = avatar.head(avatar.head_params(zd, zp))[0]
    raster = mesh_raster(verts, avatar.head.faces, view_camera(avatar.camera, avatar.head_center.detach().reshape(3),
                                                               0.0, 0.0, size))
    covered = raster.tri_id >= 0
    on_hair = np.zeros_like(covered)
    on_hair[covered] = hair_faces(avatar.head, verts)[raster.tri_id[covered]]
    face = covered & ~on_hair
    photo = cv2.resize(avatar.portrait["image"].numpy(), (size, size), interpolation=cv2.INTER_AREA).mean(axis=2)
    lum = rest.mean(axis=2)
    ours, theirs = [], []
    for a, b in (((slice(0, -1), slice(None)), (slice(1, None), slice(None))),
                 ((slice(None), slice(0, -1)), (slice(None), slice(1, None)))):
        edge = (on_hair[a] & face[b]) | (face[a] & on_hair[b])
        ours.append(np.abs(lum[a] - lum[b])[edge])
        theirs.append(np.abs(photo[a] - photo[b])[edge])
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    print(f"step across the shell's edge on the face: {ours.mean():.2f} (photo {theirs.mean():.2f}, n {len(ours)})")
    assert len(ours) > 100 and ours.mean() < 1.5 * theirs.mean()


def test_portrait_background_fades_the_photos_hair_only_beyond_a_hair_shell(astronaut_avatar, astronaut_avatar_v1):
    """Beyond the hair shell, what the photo has of the person above the neck (hair tips) fades as the head moves
    away (it stayed behind a turned head as dark strands); on the bare head (version 1) the photo's hair is the
    body layer's to carry and stays whole however the head moves."""
    from vasa3d.drive import _PortraitScene
    from vasa3d.io import load_avatar

    still, moved = {}, {}
    for version, path in ((3, astronaut_avatar), (1, astronaut_avatar_v1)):
        backdrop = _PortraitScene(load_avatar(path), 128, "auto").backdrop
        still[version], moved[version] = backdrop.layer(), backdrop.layer(head_keep=0.0)
    assert np.array_equal(still[1], moved[1])
    changed = np.abs(still[3] - moved[3]).max(axis=2) > 0.1
    # a rim of hair tips, not the body (measured 0.0018 on head version 3, whose nape covers more of the
    # photo's person behind the jaw than version 2 did)
    assert 0.001 < changed.mean() < 0.1, changed.mean()
    assert not changed[100:].any()  # the shoulders and the collar stay


def test_transparent_webm_and_png_keep_the_alpha(astronaut_avatar, tmp_path):
    import torch

    from vasa3d.io import load_avatar
    from vasa3d.io.alpha_video import read_webm_alpha
    from vasa3d.pipeline import view_camera
    from vasa3d.render import rasterize

    size = 128
    MotionLatent.neutral(3).save(tmp_path / "still.npz")
    sf.write(tmp_path / "s.wav", 0.1 * np.sin(np.arange(16000 * 3 // 25) * 0.2), 16000)
    webm = tmp_path / "a.webm"
    assert main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(webm), "--size", str(size),
                 "--background", "transparent", "--audio", str(tmp_path / "s.wav"), "-q"]) == 0
    assert main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(tmp_path / "png"),
                 "--size", str(size), "--background", "transparent", "-q"]) == 0
    avatar = load_avatar(astronaut_avatar)
    cam = view_camera(avatar.camera, avatar.head_center.reshape(3), 0.0, 0.0, size)
    with torch.no_grad():
        g = avatar(torch.zeros(1, 52), torch.zeros(1, 7))[0]
        alpha = rasterize(g, cam, size, size).alpha[0, ..., 0].numpy() * 255
    video = read_webm_alpha(webm)
    from PIL import Image

    png = np.asarray(Image.open(tmp_path / "png" / "frame_00000.png"))
    assert len(video) == 3 and video[0].shape == (size, size, 4) and png.shape == (size, size, 4)
    assert np.abs(png[..., 3].astype(float) - alpha).max() <= 1
    err = np.abs(video[0][..., 3].astype(float) - alpha)
    print(f"webm alpha error: mean {err.mean():.2f}, 99th percentile {np.percentile(err, 99):.1f} (of 255)")
    assert err.mean() < 3 and video[0][0, 0, 3] < 10 and video[0][size // 2, size // 2, 3] > 245
    assert (alpha > 128).mean() > 0.2 and (alpha < 5).mean() > 0.2  # both the head and empty space
    info = probe_video(webm)
    assert info["audio"]["codec"] == "opus" and info["video"]["codec"] == "vp9"


def test_mp4_cannot_be_transparent(astronaut_avatar, tmp_path, capsys):
    MotionLatent.neutral(2).save(tmp_path / "still.npz")
    assert main(["render", str(astronaut_avatar), str(tmp_path / "still.npz"), "-o", str(tmp_path / "a.mp4"),
                 "--background", "transparent"]) == 2
    assert "mp4 has no alpha" in capsys.readouterr().err


def test_speak_takes_a_background(astronaut_avatar, tmp_path):
    from vasa3d.motion.synth import synthesize

    speech = synthesize("Hello there.", voice="male")
    speech.save_wav(tmp_path / "s.wav")
    out = tmp_path / "s.mp4"
    assert main(["speak", str(astronaut_avatar), str(tmp_path / "s.wav"), "-o", str(out), "--size", "96",
                 "--background", "#1e90ff", "-q"]) == 0
    frames, _ = read_video_frames(out)
    corner = frames[len(frames) // 2][:8, :8].reshape(-1, 3).mean(0)
    assert np.abs(corner - [30, 144, 255]).max() < 8, corner
