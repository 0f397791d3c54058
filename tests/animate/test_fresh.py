"""Fresh training frames from the animator: draw k is a pure function of (seed, k)."""

import numpy as np
import pytest
import torch

from vasa3d.animate.dataset import FrameDataset, _as_mask_u8
from vasa3d.animate.fresh import FreshFrames, FreshMotion
from vasa3d.animate.synthesize import synthesize_dataset
from vasa3d.motion.latent import MotionLatent
from vasa3d.render.camera import Camera


def _small_camera(camera: Camera, size: int) -> Camera:
    K = camera.K.clone()
    K[:2] *= size / camera.width
    return Camera(K, camera.world_to_cam.clone(), size, size)


def test_latents_of_a_draw_do_not_depend_on_the_order_asked():
    ref = FreshMotion(seed=3, kind="random", clip_frames=30, window_clips=4)
    in_order = [ref.latents(k) for k in range(300)]
    shuffled = FreshMotion(seed=3, kind="random", clip_frames=30, window_clips=4)
    for k in np.random.default_rng(0).permutation(300):
        zd, zp = shuffled.latents(int(k))
        assert np.array_equal(zd, in_order[k][0]) and np.array_equal(zp, in_order[k][1]), k
    # a window of 120 draws visits every frame of its 4 clips once
    assert sorted(ref.locate(k) for k in range(120)) == [(c, i) for c in range(4) for i in range(30)]
    assert sorted(ref.locate(k) for k in range(120, 240)) == [(c, i) for c in range(4, 8) for i in range(30)]
    # neighbouring draws come from different clips, not one clip's consecutive frames
    clips = [ref.locate(k)[0] for k in range(120)]
    assert np.mean(np.diff(clips) == 0) < 0.4
    # another seed is another stream
    other = FreshMotion(seed=4, kind="random", clip_frames=30, window_clips=4)
    assert not np.array_equal(other.latents(0)[1], in_order[0][1])
    # wide poses, as the dataset's random motion: yaw spans tens of degrees over 300 draws
    yaw = np.degrees([zp[1] for _, zp in in_order])
    assert yaw.max() - yaw.min() > 40


def test_mixed_stream_holds_talking_and_random_clips():
    m = FreshMotion(seed=0, kind="mixed", clip_frames=40, window_clips=2)
    talking = [m.clip_is_talking(c) for c in range(40)]
    assert 10 <= sum(talking) <= 30  # about half
    c = talking.index(True)
    clip = m.clip(c)
    assert isinstance(clip, MotionLatent) and len(clip) == 40
    # a talking clip moves the jaw while the head stays within the talking generator's small turns
    jaw = clip.z_dyn[:, clip.dyn_names.index("jawOpen")]
    assert jaw.max() - jaw.min() > 0.1
    assert np.degrees(np.abs(clip.z_pose[:, 1])).max() < 30
    # and is the same clip when made again by another object (another worker)
    again = FreshMotion(seed=0, kind="mixed", clip_frames=40, window_clips=2).clip(c)
    assert np.array_equal(again.z_dyn, clip.z_dyn) and np.array_equal(again.z_pose, clip.z_pose)


def test_frames_are_the_animators_and_the_same_from_workers_in_any_order(animator, tmp_path):
    camera = _small_camera(animator.camera, 64)
    here = FreshFrames(animator, camera, seed=2, motion="random", workers=0, clip_frames=16, window_clips=2)
    # draw k is what the animator makes for draw k's latents, stored as the on-disk dataset stores a frame
    for k in (0, 5, 33):
        s = here[k]
        rgb, mask = animator(s.z_dyn.numpy(), s.z_pose.numpy(), camera)
        assert torch.equal(s.image, torch.from_numpy(rgb.astype(np.float32) / 255))
        assert torch.equal(s.mask[..., 0], torch.from_numpy(_as_mask_u8(mask).astype(np.float32) / 255))
        assert s.image.shape == (64, 64, 3) and s.camera.width == 64
    ds = synthesize_dataset(animator, MotionLatent(here[5].z_dyn.numpy()[None], here[5].z_pose.numpy()[None], 25.0),
                            camera, tmp_path / "one", workers=1, quiet=True, test_fraction=0)
    stored = FrameDataset(ds.root)[0]
    assert torch.equal(stored.image, here[5].image) and torch.equal(stored.mask, here[5].mask)

    ref = {k: here[k] for k in range(0, 44)}
    with FreshFrames(animator, camera, seed=2, motion="random", workers=2, prefetch=5, clip_frames=16,
                     window_clips=2) as ahead:
        got = ahead.take(0, 6) + ahead.take(6, 4)  # in order, from the queue
        got += ahead.take(40, 4)  # a jump (a resumed run): the queue starts over there, into the next window
        got += ahead.take(3, 2)  # and back
        assert ahead._pool is not None
    assert ahead._pool is None
    want = list(range(0, 10)) + [40, 41, 42, 43, 3, 4]
    for k, s in zip(want, got):
        assert torch.equal(s.image, ref[k].image) and torch.equal(s.mask, ref[k].mask), k
        assert torch.equal(s.z_pose, ref[k].z_pose) and torch.equal(s.z_dyn, ref[k].z_dyn), k
    assert len({float(s.z_pose[1]) for s in got[:10]}) == 10  # ten different frames


def test_a_stream_is_named_by_its_animator_camera_and_motion(animator):
    camera = _small_camera(animator.camera, 64)
    a = FreshFrames(animator, camera, seed=2).fingerprint()
    assert a == FreshFrames(animator, camera, seed=2, workers=3).fingerprint()  # workers change nothing
    assert a != FreshFrames(animator, camera, seed=3).fingerprint()
    assert a != FreshFrames(animator, camera, seed=2, motion="random").fingerprint()
    assert a != FreshFrames(animator, _small_camera(animator.camera, 96), seed=2).fingerprint()
    with pytest.raises(Exception, match="random, talking or mixed"):
        FreshFrames(animator, camera, motion="video")


def test_train_command_draws_from_the_animator_that_made_the_dataset(tmp_path):
    import skimage.data

    from vasa3d.animate import MeshWarpAnimator, random_motion
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.train import TrainConfig
    from vasa3d.train.commands import _fresh_stream

    analysis = analyze_portrait(skimage.data.astronaut(), size=256)  # as create makes a cpu-quick dataset
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    ds = synthesize_dataset(MeshWarpAnimator(analysis, fit, head), random_motion(4, seed=1), fit.camera,
                            tmp_path / "ds", workers=1, quiet=True, source={"motion": "random"})
    fresh = _fresh_stream(FrameDataset(ds.root), TrainConfig(seed=5, fresh_workers=0))
    d = fresh.describe()
    assert d["animator"]["animator"] == "meshwarp" and d["motion"]["motion"] == "random" and d["motion"]["seed"] == 5
    s = fresh[3]
    assert s.image.shape == (256, 256, 3) and fresh.camera.width == 256
    rgb, _ = fresh.animator(s.z_dyn.numpy(), s.z_pose.numpy(), fresh.camera)
    assert torch.equal(s.image, torch.from_numpy(rgb.astype(np.float32) / 255))
    # the re-fitted animator makes the dataset's frames again: same latents, close pixels
    stored = FrameDataset(ds.root)[2]
    rgb, _ = fresh.animator(stored.z_dyn.numpy(), stored.z_pose.numpy(), fresh.camera)
    err = np.abs(rgb.astype(np.float32) / 255 - stored.image.numpy()).mean()
    assert err < 0.03, err
