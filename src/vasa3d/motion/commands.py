"""``vasa3d motion`` (speech -> motion file and plot) and ``vasa3d say`` (offline speech synthesis)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from vasa3d.errors import InputError


def _output_path(path: str, what: str, suffixes: tuple[str, ...], inputs=()) -> Path:
    from vasa3d.io.paths import check_output_path

    return check_output_path(path, inputs, suffixes, what)


def _gaze(text: str) -> tuple[float, float]:
    try:
        yaw, pitch = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("gaze is YAW,PITCH in degrees, e.g. --gaze 10,-5") from None
    return yaw, pitch


def _read_phonemes(path: str) -> list[tuple[str, float, float]]:
    """Phone timing from JSON ``[[phone, start, end], ...]`` or text lines ``phone start end``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"phone timing file not found: {p}")
    text = p.read_text(errors="replace").strip()
    try:
        if text.startswith("["):
            items = json.loads(text)
        else:
            items = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        return [(str(a), float(b), float(c)) for a, b, c in items]
    except (ValueError, TypeError) as exc:
        raise InputError(f"{p} is not a phone timing file ({exc}); write 'PHONE START END' per line") from None


def run_motion(args: argparse.Namespace) -> int:
    from vasa3d.config import dataclass_from_args
    from vasa3d.io.media import audio_info, iter_audio, load_audio
    from vasa3d.motion.config import MotionConfig
    from vasa3d.motion.generate import MotionStream, audio_to_motion, concat_latents

    inputs = [args.audio, args.phonemes, args.diffusion_model, getattr(args, "speech_encoder", None)]
    out = _output_path(args.output, "motion file", (".npz",), inputs)
    plot = _output_path(args.plot, "plot", (".png", ".svg", ".pdf"), inputs) if args.plot else None
    csv = _output_path(args.csv, "ARKit CSV", (".csv",), inputs) if args.csv else None
    config = dataclass_from_args(MotionConfig, args)
    if args.gaze is not None:
        config.gaze = args.gaze
    if args.transcript is not None:
        config.transcript = args.transcript
    if args.diffusion_model is not None:
        config.diffusion_model = args.diffusion_model
        if args.generator is None:
            config.generator = "diffusion"
    phonemes = _read_phonemes(args.phonemes) if args.phonemes else None
    samples, sr = None, 16000
    audio_info(args.audio)  # rate, channels and length from the header, before decoding
    if config.transcript or plot is not None or config.generator == "diffusion":
        samples, sr = load_audio(args.audio, sr=sr)  # alignment, the plot and the offline diffusion need it whole
        motion = audio_to_motion(samples, sr, config, phonemes=phonemes)
    else:  # chunk by chunk through the streaming generator: memory does not grow with the recording
        stream = MotionStream(sr, config, phonemes)
        parts = [stream.push(chunk) for chunk in iter_audio(args.audio, sr)]
        motion = concat_latents(parts + [stream.flush()], stream.config.fps)
    motion.save(out)
    if csv is not None:
        motion.save_arkit_csv(csv)
    if plot is not None:
        from vasa3d.motion.plot import plot_motion

        plot_motion(motion, plot, samples, sr, phonemes, title=os.path.basename(args.audio))
    if not getattr(args, "quiet", False):
        print(f"{len(motion)} frames ({motion.duration:.2f} s at {motion.fps:g} fps) -> {out}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from vasa3d.config import dataclass_from_args
    from vasa3d.motion.config import DiffusionConfig, TrainAudio2MotionConfig
    from vasa3d.motion.train_audio2motion import pairs_from_videos, train_audio2motion

    out = _output_path(args.output, "model file", (".safetensors",),
                       [args.videos, getattr(args, "speech_encoder", None)])
    quiet = getattr(args, "quiet", False)
    model_cfg = dataclass_from_args(DiffusionConfig, args)
    train_cfg = dataclass_from_args(TrainAudio2MotionConfig, args)
    if args.resume and out.is_file():  # the pairs need the saved model's features
        from vasa3d.motion.diffusion import DiffusionModel

        model_cfg = DiffusionModel.load(out).cfg
    elif train_cfg.speech_encoder and args.features is None:
        model_cfg.features = "wav2vec2"
    encoder = None
    if model_cfg.features == "wav2vec2":
        from vasa3d.motion.speech_encoder import SpeechEncoder

        encoder = SpeechEncoder.load(train_cfg.speech_encoder)
    elif train_cfg.speech_encoder:
        raise InputError("--speech-encoder is for --features wav2vec2; the model reads log-mel features")
    pairs = pairs_from_videos(args.videos, quiet, model_cfg, encoder)
    train_audio2motion(pairs, out, model_cfg, train_cfg, resume=args.resume, quiet=quiet)
    if not quiet:
        print(f"trained on {len(pairs)} videos ({sum(len(p.motion) for p in pairs)} frames) -> {out}")
    return 0


def run_say(args: argparse.Namespace) -> int:
    from vasa3d.motion.synth import synthesize

    out = _output_path(args.output, "speech file", (".wav",))
    timing = _output_path(args.timing, "timing file", (".json",)) if args.timing else None
    speech = synthesize(args.text, voice=args.voice, sr=args.sample_rate, rate=args.rate)
    speech.save_wav(out)
    if timing is not None:
        from vasa3d.io.paths import atomic_output

        with atomic_output(timing) as tmp:
            tmp.write_text(json.dumps([list(p) for p in speech.phonemes]))
    if not getattr(args, "quiet", False):
        print(f"{speech.duration:.2f} s of speech, {len(speech.phonemes)} phones -> {out}")
    return 0


def register(subparsers) -> None:
    from vasa3d.config import add_dataclass_args
    from vasa3d.motion.config import MotionConfig

    p = subparsers.add_parser(
        "motion", help="speech audio -> motion latents (lip sync, blinks, gaze, head motion)",
        description="Turn speech (wav, mp3, ogg, m4a, or a video's audio) into per-frame motion latents: "
                    "ARKit-52 face weights and head pose at 25 fps.")
    p.add_argument("audio", metavar="AUDIO", help="speech recording")
    p.add_argument("-o", "--output", required=True, metavar="MOTION.npz", help="motion file to write")
    p.add_argument("--plot", metavar="PLOT.png", help="also draw the mouth, jaw, blink and pose curves")
    p.add_argument("--csv", metavar="ARKIT.csv", help="also write the face weights as ARKit CSV")
    p.add_argument("--gaze", type=_gaze, metavar="YAW,PITCH", help="mean gaze direction in degrees")
    p.add_argument("--transcript", metavar="TEXT", help="what is said: phones are then force-aligned")
    p.add_argument("--phonemes", metavar="TIMING", help="known phone timing: JSON [[phone, start, end], ...] "
                                                         "or 'PHONE START END' lines (ARPAbet, seconds)")
    p.add_argument("--diffusion-model", metavar="MODEL", help="model of the diffusion generator "
                                                             "(from 'vasa3d train-audio2motion'); selects it")
    add_dataclass_args(p, MotionConfig)
    p.set_defaults(func=run_motion)

    from vasa3d.motion.config import DiffusionConfig, TrainAudio2MotionConfig

    t = subparsers.add_parser(
        "train-audio2motion", help="train the diffusion audio-to-motion generator on talking videos",
        description="Track every video in a folder (face tracker), pair its motion with its sound, and train "
                    "the diffusion transformer that turns speech into motion. Checkpoints go to OUTPUT and "
                    "OUTPUT.optim every --checkpoint-every steps; --resume continues from them.")
    t.add_argument("videos", metavar="VIDEOS", help="folder of talking-head videos with sound")
    t.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors")
    t.add_argument("--resume", action="store_true", help="continue from OUTPUT and OUTPUT.optim")
    add_dataclass_args(t, TrainAudio2MotionConfig)
    add_dataclass_args(t, DiffusionConfig)
    t.set_defaults(func=run_train)

    s = subparsers.add_parser(
        "say", help="offline text-to-speech (the built-in formant synthesizer)",
        description="Speak English text with the built-in formant synthesizer; optionally write its exact "
                    "phone timing.")
    s.add_argument("text", metavar="TEXT")
    s.add_argument("-o", "--output", required=True, metavar="SPEECH.wav")
    s.add_argument("--voice", choices=["male", "female"], default="male")
    s.add_argument("--rate", type=float, default=1.0, help="speaking-rate factor (default 1)")
    s.add_argument("--sample-rate", type=int, default=16000, help="Hz (default 16000)")
    s.add_argument("--timing", metavar="PHONES.json", help="also write [[phone, start_s, end_s], ...]")
    s.set_defaults(func=run_say)
