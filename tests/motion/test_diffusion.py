"""The diffusion generator: streaming = offline, files, and a tiny CPU training run that beats the
mean-motion predictor on held-out clips."""

import numpy as np
import pytest
import torch

from vasa3d.errors import InputError, MissingAssetError
from vasa3d.motion import MotionConfig, audio_to_motion
from vasa3d.motion.diffusion import DiffusionConfig, DiffusionModel, DiffusionStream, diffusion_motion
from vasa3d.motion.synth import synthesize
from streaming_check import assert_stream_matches_offline
from vasa3d.motion.train_audio2motion import (TrainAudio2MotionConfig, evaluate_windows, make_pair,
                                              train_audio2motion)

SR = 16000
TINY = DiffusionConfig(d_model=64, layers=2, heads=4, sample_steps=6)


def test_stream_equals_offline_within_100ms(one_thread):
    torch.manual_seed(0)
    model = DiffusionModel(TINY).eval()
    x = synthesize("Maybe my mom bought a map.", voice="female").samples
    cfg = MotionConfig(seed=5)
    offline = assert_stream_matches_offline(model, x, SR, cfg)
    other_seed = diffusion_motion(x, SR, model, MotionConfig(seed=6))
    assert np.abs(other_seed.z_pose - offline.z_pose).max() > 0


def test_model_file_roundtrip_and_errors(tmp_path):
    model = DiffusionModel(TINY)
    model.motion_mean.fill_(0.25)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = DiffusionModel.load(path)
    assert loaded.cfg == TINY and torch.equal(loaded.motion_mean, model.motion_mean)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    with pytest.raises(MissingAssetError):
        DiffusionModel.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(InputError):
        DiffusionModel.load(tmp_path / "bad.safetensors")
    with pytest.raises(InputError, match="train"):
        audio_to_motion(np.zeros(1600, np.float32), SR, MotionConfig(generator="diffusion"))


def test_tiny_training_beats_the_mean_motion(tmp_path, one_thread):
    """Train on synthesized speech paired with the phonetic generator's motion; test on other sentences."""
    texts = ["Hello! I am a talking head made from a single photo.", "Watch my lips move as I speak.",
             "Maybe the best part of my morning is a big cup of coffee.", "People probably prefer simple problems.",
             "My mother bought a map of Boston.", "Who would see two blue moons by the open window?"]
    pairs = []
    for i, text in enumerate(texts):
        for voice in ("male", "female"):
            speech = synthesize(text, voice, seed=i)
            motion = audio_to_motion(speech.samples, SR, MotionConfig(seed=i), phonemes=speech.phonemes)
            pairs.append(make_pair(speech.samples, motion))
    train, held_out = pairs[:-2], pairs[-2:]
    mean = np.concatenate([p.motion for p in train]).mean(axis=0)
    out = tmp_path / "a2m.safetensors"
    cfg = TrainAudio2MotionConfig(steps=150, batch=32, lr=2e-3, checkpoint_every=150)
    train_audio2motion(train, out, TINY, cfg, quiet=True)
    assert out.exists() and (tmp_path / "a2m.safetensors.optim").exists()
    # resume from the checkpoint and train on to 300 steps
    cfg.steps = 300
    model = train_audio2motion(train, out, None, cfg, resume=True, quiet=True)
    scores = evaluate_windows(model, held_out, mean)
    # the mouth of unseen sentences is predicted far better than by the mean motion
    assert scores["model_mouth"] < 0.8 * scores["mean_mouth"], scores
    assert scores["model_all"] < scores["mean_all"], scores
    # and the generated clip from the saved model opens the mouth where the speech is
    speech = synthesize(texts[-1], "female", seed=5)
    made = audio_to_motion(speech.samples, SR, MotionConfig(generator="diffusion", diffusion_model=str(out)))
    jaw = made.column("jawOpen")
    t = np.arange(len(jaw)) / 25
    speaking = (t > speech.phonemes[1][1]) & (t < speech.phonemes[-1][1])
    assert jaw[speaking].mean() > 3 * jaw[~speaking].mean() + 0.02


def test_train_command_on_a_talking_video(tmp_path, one_thread):
    """`vasa3d train-audio2motion` end to end: track a video, pair it with its sound, train, resume."""
    from skimage import data
    from skimage.transform import resize

    from vasa3d.cli import main
    from vasa3d.io.media import write_video

    speech = synthesize("Hello, watch my lips.", "female")
    face = (resize(data.astronaut()[:300, 100:400], (192, 192)) * 255).astype(np.uint8)
    frames = int(np.ceil(speech.duration * 25))
    # a face that nods a little, so the tracker has motion to find
    video_frames = [np.roll(face, int(3 * np.sin(i / 4)), axis=0) for i in range(frames)]
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "talk.mp4", video_frames, 25.0, speech.samples, SR)
    out = tmp_path / "a2m.safetensors"
    common = ["--d-model", "32", "--layers", "1", "--heads", "2", "--batch", "8", "--checkpoint-every", "2", "-q"]
    assert main(["train-audio2motion", str(videos), "-o", str(out), "--steps", "2", *common]) == 0
    first = DiffusionModel.load(out)
    assert first.cfg.d_model == 32 and out.with_name(out.name + ".optim").exists()
    assert main(["train-audio2motion", str(videos), "-o", str(out), "--steps", "4", "--resume", *common]) == 0
    second = DiffusionModel.load(out)
    assert any(not torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    motion_file = tmp_path / "m.npz"
    wav = tmp_path / "s.wav"
    speech.save_wav(wav)
    assert main(["motion", str(wav), "-o", str(motion_file), "--diffusion-model", str(out), "-q"]) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train-audio2motion", str(empty), "-o", str(tmp_path / "x.safetensors"), "-q"]) == 2
