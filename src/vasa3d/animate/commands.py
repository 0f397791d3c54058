"""``vasa3d synth`` and ``vasa3d dataset import|from-video|preview``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vasa3d.config import finite_float
from vasa3d.errors import InputError

AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".m4a", ".flac", ".aac", ".opus")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth", help="build a training dataset from one portrait (frames + latents + cameras)",
        description="Animate PORTRAIT with the mesh-warp animator and store the frames, their motion latents and "
                    "cameras as a dataset folder. Interrupted builds resume when the same command is rerun.")
    p.add_argument("portrait", help="portrait photo (JPEG/PNG)")
    p.add_argument("-o", "--output", required=True, help="dataset folder to create")
    p.add_argument("--minutes", type=finite_float, default=1.0, help="length of the dataset in minutes (default 1)")
    p.add_argument("--motion", default="random",
                   help="'random' (wide random poses and expressions), 'talking' (built-in voices speaking, "
                        "through the audio-to-motion generator with random emotions), 'mixed' (half talking, half "
                        "random, in alternating blocks: what 'vasa3d create' uses), 'audio:DIR' (speech clips in DIR "
                        "through the audio-to-motion generator) or 'video:DIR' (talking videos in DIR through the "
                        "tracker)")
    p.add_argument("--seed", type=int, default=0, help="seed of the motion and the train/test split")
    p.add_argument("--workers", type=int, default=0, help="parallel processes (default: one per core)")
    p.add_argument("--size", type=int, default=512, help="frame size in pixels (square)")
    p.add_argument("--shard-size", type=int, default=32, help="frames per shard file")
    p.add_argument("--fps", type=finite_float, default=25.0, help="frame rate")
    p.add_argument("--background", choices=("keep", "black"), default="keep",
                   help="keep the portrait's background (person inpainted) or make it black")
    p.set_defaults(func=cmd_synth)

    d = subparsers.add_parser("dataset", help="import, make from a video, or preview a dataset")
    dsub = d.add_subparsers(dest="dataset_command", metavar="ACTION")
    imp = dsub.add_parser(
        "import", help="make a dataset from frames and latents produced by any 2D talking-head generator",
        description="SOURCE holds frames/ (PNG or JPEG, sorted by name) or frames.mp4, motion.npz (a vasa3d motion "
                    "file, one latent per frame) and optionally masks/, cameras.npz (K, world_to_cam) and "
                    "portrait.png. See docs/dataset.md.")
    imp.add_argument("source", help="folder with the generator's output")
    imp.add_argument("-o", "--output", required=True, help="dataset folder to create")
    imp.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    imp.add_argument("--size", type=int, default=512, help="frame size of the dataset")
    imp.set_defaults(func=cmd_import)
    fv = dsub.add_parser("from-video", help="make a dataset from a real talking video of the person",
                         description="Track every frame of VIDEO (latents and cameras) and store the real frames.")
    fv.add_argument("video", help="talking-head video (mp4, mov, ...)")
    fv.add_argument("-o", "--output", required=True, help="dataset folder to create")
    fv.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    fv.add_argument("--size", type=int, default=512, help="frame size of the dataset")
    fv.add_argument("--max-frames", type=int, default=0, help="use at most this many frames (0: all)")
    fv.set_defaults(func=cmd_from_video)
    pv = dsub.add_parser("preview", help="contact sheet (and optionally a video) of a dataset")
    pv.add_argument("dataset", help="dataset folder")
    pv.add_argument("-o", "--output", required=True, help="contact sheet image (PNG)")
    pv.add_argument("--video", default=None, help="also write a preview video (mp4) of the first frames")
    pv.add_argument("--count", type=int, default=24, help="frames on the sheet")
    pv.add_argument("--seconds", type=finite_float, default=10.0, help="length of the preview video")
    pv.set_defaults(func=cmd_preview)
    for action in (imp, fv, pv):  # --quiet also after the action
        action.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars")
    d.set_defaults(func=lambda args: (d.print_help(), 1)[1])


# ---------------------------------------------------------------- shared steps
def _fit(image: np.ndarray, size: int, quiet: bool):
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    analysis = analyze_portrait(image, size=size)
    for w in analysis.warnings:
        print(f"note: {w}", file=sys.stderr)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    return analysis, head, fit


def _output_dir(path: str, inputs=()) -> Path:
    from vasa3d.io.paths import check_output_dir

    return check_output_dir(path, inputs, "dataset folder")


def _check_frames_flags(args) -> None:
    """Sizes and counts that would fail (or fill the memory) later, refused before any work."""
    from vasa3d.config import check_size

    check_size(args.size)
    if getattr(args, "fps", 25.0) <= 0 or getattr(args, "fps", 25.0) > 240:
        raise InputError("--fps must be more than 0 and at most 240")
    if getattr(args, "shard_size", 1) < 1:
        raise InputError("--shard-size must be at least 1")
    if getattr(args, "max_frames", 0) < 0:
        raise InputError("--max-frames must be 0 (all) or more")
    if getattr(args, "workers", 0) < 0:
        raise InputError("--workers must be 0 (one per core) or more")


def _files(folder: str, suffixes: tuple[str, ...], what: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{what} folder not found: {d}")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in suffixes)
    if not files:
        raise InputError(f"no {what} files ({', '.join(suffixes)}) in {d}")
    return files


def synth_motion(spec: str, n_frames: int, seed: int, fps: float, quiet: bool = True):
    """The motion for ``vasa3d synth --motion SPEC``: ``n_frames`` latents."""
    from vasa3d.animate.random_motion import random_motion
    from vasa3d.motion.generate import concat_latents

    if spec == "random":
        return random_motion(n_frames, seed=seed, fps=fps), {"motion": "random", "seed": seed}
    if spec in ("talking", "mixed"):
        from vasa3d.animate.talking_motion import mixed_motion, talking_motion

        make = talking_motion if spec == "talking" else mixed_motion
        return make(n_frames, seed=seed, fps=fps), {"motion": spec, "seed": seed}
    kind, _, folder = spec.partition(":")
    if kind == "audio" and folder:
        from vasa3d.io import load_audio
        from vasa3d.motion import audio_to_motion
        from vasa3d.progress import track

        parts, total, used = [], 0, []
        for f in track(_files(folder, AUDIO_SUFFIXES, "audio"), "speech to motion", quiet=quiet):
            samples, sr = load_audio(f)
            m = audio_to_motion(samples, sr)
            parts.append(m)
            used.append(f.name)
            total += len(m)
            if total >= n_frames:
                break
        motion = concat_latents(parts, parts[0].fps)
        if len(motion) < n_frames:
            print(f"note: the clips in {folder} give {len(motion) / motion.fps / 60:.2f} minutes; using all of them",
                  file=sys.stderr)
        return motion.slice(0, min(n_frames, len(motion))), {"motion": "audio", "clips": used}
    if kind == "video" and folder:
        parts, total, used = [], 0, []
        for f in _files(folder, VIDEO_SUFFIXES, "video"):
            m = track_video_motion(f, quiet=quiet)
            parts.append(m)
            used.append(f.name)
            total += len(m)
            if total >= n_frames:
                break
        motion = concat_latents(parts, fps)
        return motion.slice(0, min(n_frames, len(motion))), {"motion": "video", "clips": used}
    raise InputError(f"--motion must be 'random', 'talking', 'mixed', 'audio:DIR' or 'video:DIR', not '{spec}'")


def track_video_motion(path: Path, quiet: bool = True):
    """Per-frame latents of a talking video (``vasa3d.face.track_video``)."""
    from vasa3d.face import track_video

    return track_video(str(path), quiet=quiet)


# ---------------------------------------------------------------- synth
def cmd_synth(args) -> int:
    from vasa3d.animate.meshwarp import MeshWarpAnimator, MeshWarpConfig
    from vasa3d.animate.synthesize import synthesize_dataset
    from vasa3d.io import load_image

    out = _output_dir(args.output, [args.portrait, args.motion.partition(":")[2] or None])
    if args.minutes <= 0:
        raise InputError("--minutes must be positive")
    _check_frames_flags(args)
    image = load_image(args.portrait)
    n = max(1, int(round(args.minutes * 60 * args.fps)))
    motion, info = synth_motion(args.motion, n, args.seed, args.fps, args.quiet)
    analysis, head, fit = _fit(image, args.size, args.quiet)
    animator = MeshWarpAnimator(analysis, fit, head, MeshWarpConfig(background=args.background))
    ds = synthesize_dataset(animator, motion, fit.camera, out, seed=args.seed, workers=args.workers or None,
                            quiet=args.quiet, shard_size=args.shard_size, portrait=analysis.image,
                            source={"portrait": Path(args.portrait).name, **info})
    if not args.quiet:
        print(f"{out}: {len(ds)} frames ({len(ds.train_indices)} train, {len(ds.test_indices)} test), "
              f"{ds.width}x{ds.height} at {ds.fps:g} fps")
    return 0


# ---------------------------------------------------------------- import
def cmd_import(args) -> int:
    from vasa3d.animate.importer import import_frames

    _check_frames_flags(args)
    ds = import_frames(args.source, _output_dir(args.output, [args.source]), seed=args.seed, size=args.size, quiet=args.quiet)
    if not args.quiet:
        print(f"{args.output}: {len(ds)} frames imported")
    return 0


def cmd_from_video(args) -> int:
    from vasa3d.animate.importer import dataset_from_video

    _check_frames_flags(args)
    ds = dataset_from_video(args.video, _output_dir(args.output, [args.video]), seed=args.seed, size=args.size,
                            max_frames=args.max_frames or None, quiet=args.quiet)
    if not args.quiet:
        print(f"{args.output}: {len(ds)} frames from {args.video}")
    return 0


# ---------------------------------------------------------------- preview
def cmd_preview(args) -> int:
    from vasa3d.animate.dataset import FrameDataset
    from vasa3d.animate.preview import contact_sheet, preview_frames
    from vasa3d.io import check_output_path, save_image, write_video

    check_output_path(args.output, [args.dataset], (".png", ".jpg", ".jpeg"), "contact sheet")
    if args.count < 1 or args.count > 1000:
        raise InputError("--count must be 1 to 1000 frames")
    if args.video and not 0 < args.seconds <= 3600:
        raise InputError("--seconds must be more than 0 and at most 3600")
    if args.video:
        check_output_path(args.video, [args.dataset, args.output], (".mp4",), "preview video")
    ds = FrameDataset(args.dataset)
    save_image(args.output, contact_sheet(ds, args.count))
    if args.video:
        n = min(len(ds), max(1, int(args.seconds * ds.fps)))
        write_video(args.video, preview_frames(ds, n), fps=ds.fps)
    if not args.quiet:
        print(f"wrote {args.output}" + (f" and {args.video}" if args.video else ""))
    return 0
