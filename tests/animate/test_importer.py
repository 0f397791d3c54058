"""Datasets from a real (here: animator-made) talking video and from another generator's frames."""

import numpy as np
import pytest
import torch

from vasa3d.animate import dataset_from_video, import_frames, random_motion
from vasa3d.animate.importer import crop_camera
from vasa3d.arkit import ARKIT_INDEX as I
from vasa3d.errors import InputError
from vasa3d.face import detect_landmarks
from vasa3d.head import params_from_latent
from vasa3d.io import save_image, write_video
from vasa3d.render.camera import Camera


def test_crop_camera_moves_projections_like_the_crop():
    cam = Camera.orbit(20, 5, 1.0, width=640, height=480)
    a = np.radians(12)
    M = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0]]) * 0.8
    M[:, 2] = [-40, 30]
    crop = crop_camera(cam, M, 256)
    pts = torch.randn(50, 3) * 0.05
    uv, z = cam.project(pts)
    uv2, z2 = crop.project(pts)
    np.testing.assert_allclose(uv2.numpy(), uv.numpy() @ M[:, :2].T + M[:, 2], atol=1e-3)
    np.testing.assert_allclose(z2.numpy(), z.numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def talking_video(animator, tmp_path_factory):
    motion = random_motion(40, seed=11)
    motion.z_pose[:, :3] *= 0.4  # moderate turns, as in a talking video
    # speech-like jaw only, so that the tracker's answer is well defined
    motion.z_dyn[:] = 0.0
    motion.z_dyn[:, I["jawOpen"]] = 0.35 * (1 - np.cos(np.arange(40) * 2 * np.pi / 9))
    frames = [animator(motion.z_dyn[i], motion.z_pose[i])[0] for i in range(len(motion))]
    path = tmp_path_factory.mktemp("video") / "talk.mp4"
    write_video(path, frames, fps=25)
    return path, motion, frames


def test_dataset_from_video_tracks_latents_and_camera(animator, talking_video, tmp_path):
    path, motion, _ = talking_video
    ds = dataset_from_video(path, tmp_path / "ds", size=256, quiet=True)
    assert len(ds) >= 38 and ds.width == 256 and ds.manifest["source"]["kind"] == "video"
    jaw = ds.motion.column("jawOpen")
    assert np.corrcoef(jaw[: len(ds)], motion.column("jawOpen")[: len(ds)])[0, 1] > 0.7
    # the tracked latents, posed through the dataset's camera, land on the frame's own landmarks
    head = animator.head
    errs = []
    for i in (0, 15, 30):
        s = ds[i]
        rgb = (s.image.numpy() * 255).round().astype(np.uint8)
        lm = detect_landmarks(rgb)
        params = params_from_latent(s.z_dyn[None], s.z_pose[None], animator.shape)
        with torch.no_grad():
            uv, _ = s.camera.project(head(params)[0][head.landmark_vertices[:468]])
        errs.append(np.linalg.norm(uv.numpy() - lm[:468, :2], axis=1).mean())
    assert np.mean(errs) < 4.0, errs  # pixels in a 256 crop


def test_corrupt_or_faceless_video_is_refused(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(InputError, match="bad.mp4"):
        dataset_from_video(bad, tmp_path / "a", quiet=True)
    blank = tmp_path / "blank.mp4"
    write_video(blank, [np.full((128, 128, 3), 90, np.uint8)] * 5, fps=25)
    with pytest.raises(InputError, match="face"):
        dataset_from_video(blank, tmp_path / "b", quiet=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_import_frames_from_another_generator(animator, talking_video, tmp_path):
    _, motion, frames = talking_video
    src = tmp_path / "gen"
    (src / "frames").mkdir(parents=True)
    for i, f in enumerate(frames[:12]):
        save_image(src / "frames" / f"{i:05d}.png", f)
    motion.slice(0, 12).save(src / "motion.npz")
    cam = animator.camera
    np.savez(src / "cameras.npz", K=cam.K.numpy()[None], world_to_cam=cam.world_to_cam.numpy()[None])
    ds = import_frames(src, tmp_path / "ds", size=256, quiet=True)
    assert len(ds) == 12 and ds.width == 256
    np.testing.assert_allclose(ds[3].camera.K[0, 0].item(), cam.K[0, 0].item() / 2, rtol=1e-5)
    np.testing.assert_allclose(ds[3].z_dyn.numpy(), motion.z_dyn[3])
    assert float(ds[3].mask.min()) == 1.0  # no masks given: all foreground
    assert abs(ds[3].image.mean().item() * 255 - frames[3].mean()) < 2
    # a stranger's cameras.npz that would unpack 400 MB of matrices from 0.4 MB is refused from its headers
    np.savez_compressed(src / "cameras.npz", K=np.zeros((9_000_000, 3, 3), np.float32),
                        world_to_cam=cam.world_to_cam.numpy()[None])
    assert (src / "cameras.npz").stat().st_size < 1 << 20
    with pytest.raises(InputError, match=r"K must be 1 or 12 float matrices of 3x3, not float32 \(9000000, 3, 3\)"):
        import_frames(src, tmp_path / "ds3", size=256, quiet=True)
    (src / "motion.npz").unlink()
    with pytest.raises(InputError, match="motion.npz"):
        import_frames(src, tmp_path / "ds2", quiet=True)


def test_synth_motion_from_driving_videos(talking_video, tmp_path):
    from vasa3d.animate.commands import synth_motion

    path, motion, _ = talking_video
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "a.mp4").write_bytes(path.read_bytes())
    (clips / "notes.txt").write_text("not a video")
    m, info = synth_motion(f"video:{clips}", 30, seed=0, fps=25)
    assert len(m) == 30 and info == {"motion": "video", "clips": ["a.mp4"]}
    assert np.corrcoef(m.column("jawOpen"), motion.column("jawOpen")[:30])[0, 1] > 0.7
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video files"):
        synth_motion(f"video:{tmp_path / 'empty'}", 30, seed=0, fps=25)
