"""``vasa3d train DATASET -o AVATAR`` and ``vasa3d eval AVATAR DATASET -o REPORT``."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
from pathlib import Path

from vasa3d.config import add_dataclass_args, dataclass_from_args

from .config import PRESETS, TrainConfig


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a Gaussian avatar on a frame dataset",
        description="Fit a Gaussian head avatar to a frame dataset (frames + motion latents + cameras) and "
                    "write it as a .vasa3d file. Checkpoints go to AVATAR.train/; rerunning resumes.",
    )
    p.add_argument("dataset", help="dataset folder (made by 'vasa3d synth' or 'vasa3d create --keep-work')")
    p.add_argument("-o", "--output", required=True, help="avatar file to write (.vasa3d)")
    p.add_argument("--preset", choices=PRESETS, default="cpu-quick", help="starting config (default: cpu-quick)")
    p.add_argument("--portrait", default="", help="portrait image to initialise from (default: the dataset's portrait.png)")
    p.add_argument("--init", default="", help="start from this .vasa3d avatar instead of a fresh one")
    p.add_argument("--head", default="builtin",
                   help="head model: builtin, or flame:PATH (your FLAME model .pkl; also what an --init avatar on "
                        "FLAME needs); see docs/head.md")
    add_dataclass_args(p, TrainConfig)
    p.set_defaults(func=_train)

    e = subparsers.add_parser(
        "eval",
        help="measure an avatar on a dataset's held-out frames",
        description="PSNR, L1, SSIM and perceptual distance of an avatar on the held-out frames of a dataset, in "
                    "the head region and in the face region (the paper's PSNR_face); identity distance to the "
                    "portrait at 0, +-30 and +-45 degrees; side-view hole coverage; lip sync measured on rendered "
                    "video (mediapipe's lips against loudness, and /p b m/ closures). Writes metrics.json, "
                    "report.png and lipsync.png.",
    )
    e.add_argument("avatar", help=".vasa3d avatar file")
    e.add_argument("dataset", help="dataset folder")
    e.add_argument("-o", "--output", required=True, help="report folder to write")
    e.add_argument("--head-model", default="", help="your FLAME model file, for an avatar made with --head flame:PATH")
    from vasa3d.eval.evaluate import EvalConfig

    add_dataclass_args(e, EvalConfig)
    e.set_defaults(func=_eval)


def _train(args: argparse.Namespace) -> int:
    from vasa3d.animate import FrameDataset
    from vasa3d.errors import InputError
    from vasa3d.io import FolderLock, check_output_path, load_avatar, save_avatar

    from .trainer import Trainer

    from vasa3d.head import parse_head_spec

    head_config, head_file = parse_head_spec(args.head)
    output = check_output_path(args.output, [args.dataset, args.portrait, args.init, head_file], (".vasa3d",),
                               "avatar file")
    dataset = FrameDataset(args.dataset)
    config = dataclass_from_args(TrainConfig, args, base=TrainConfig.preset(args.preset))
    for note in config.check_plugins():  # before the portrait is analysed
        print(f"note: {note}")
    fresh = _fresh_stream(dataset, config) if config.fresh_frames else None
    if config.fresh_frames and fresh is None:
        print("note: fresh frames off: this dataset was not made by the meshwarp animator from a portrait it holds, "
              "so training draws from its own frames")
        config = dataclasses.replace(config, fresh_frames=False)
    if args.init:
        avatar = load_avatar(args.init, head_model=head_file)
    else:
        portrait = Path(args.portrait) if args.portrait else Path(args.dataset) / "portrait.png"
        if not portrait.exists():
            raise InputError(f"no portrait to start from: {portrait} is missing; pass --portrait IMAGE or --init AVATAR")
        avatar = _fresh_avatar(portrait, args.preset, dataset, head_config, head_file)
    start = Path(args.init) if args.init else portrait
    with open(start, "rb") as f:  # what the avatar starts from is part of what a checkpoint was trained on
        start_digest = hashlib.file_digest(f, "sha256").hexdigest()[:16]
    work = output.with_name(output.name + ".train")
    with FolderLock(work, "checkpoint folder"):
        avatar = Trainer(avatar, dataset, config, log_dir=work, quiet=args.quiet, fresh=fresh,
                         trained_on={"init" if args.init else "portrait": start_digest, "preset": args.preset}).run()
        save_avatar(output, avatar)
    print(f"wrote {output} ({avatar.n_gaussians} gaussians); checkpoints and logs in {work}")
    return 0


def _fresh_stream(dataset, config: TrainConfig):
    """Fresh training frames from the animator that made ``dataset`` (its portrait re-fitted), or None when
    the dataset was not made by the meshwarp animator from the portrait it holds."""
    from vasa3d.animate.fresh import FreshFrames
    from vasa3d.animate.meshwarp import MeshWarpAnimator, MeshWarpConfig
    from vasa3d.face import analyze_portrait
    from vasa3d.head import build_head, fit_portrait

    source = dataset.manifest.get("source")
    portrait = dataset.portrait
    if not isinstance(source, dict) or source.get("kind") != "animator" or source.get("animator") != "meshwarp" \
            or portrait is None:
        return None
    recorded = source.get("config") if isinstance(source.get("config"), dict) else {}
    background = recorded.get("background") if recorded.get("background") in ("keep", "black") else "keep"
    motion = source.get("motion") if source.get("motion") in ("random", "talking", "mixed") else "mixed"
    analysis = analyze_portrait(portrait, size=dataset.width)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    animator = MeshWarpAnimator(analysis, fit, head, MeshWarpConfig(background=background))
    return FreshFrames(animator, fit.camera, seed=config.seed, motion=motion, workers=config.fresh_workers)


def _fresh_avatar(portrait: Path, preset: str, dataset, head_config=None, head_file=None):
    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import avatar_head, build_head, fit_portrait
    from vasa3d.io import load_image

    analysis = analyze_portrait(load_image(portrait), size=dataset.width)
    head = build_head(None)  # the dataset's cameras come from the built-in head's fit
    fit = fit_portrait(analysis, head)
    bound = avatar_head(analysis.landmarks, head, fit, head_config, head_file)
    return GaussianAvatar.from_portrait(bound.head, bound.fit, analysis, AvatarConfig.preset(preset),
                                        latent_map=bound.latent_map)


def _eval(args: argparse.Namespace) -> int:
    from vasa3d.animate import FrameDataset
    from vasa3d.errors import InputError
    from vasa3d.eval.evaluate import EvalConfig, evaluate
    from vasa3d.io import check_output_dir, load_avatar

    config = dataclass_from_args(EvalConfig, args)
    check_output_dir(args.output, [args.avatar, args.dataset, args.head_model, config.audio], "report folder")
    if not (math.isfinite(config.lipsync_seconds) and 1.0 <= config.lipsync_seconds <= 600.0):
        raise InputError(f"--lipsync-seconds {config.lipsync_seconds} is not within 1..600")
    if config.transcript and not config.audio:
        raise InputError("--transcript gives the words of --audio; give the recording with --audio")
    if config.audio and config.lipsync:
        from vasa3d.io.media import audio_info

        audio_info(config.audio)  # a missing or unreadable recording fails now, not after the image metrics
    avatar = load_avatar(args.avatar, head_model=args.head_model or None)
    dataset = FrameDataset(args.dataset)
    metrics = evaluate(avatar, dataset, config, out_dir=args.output, quiet=args.quiet)
    summary = {k: metrics[k] for k in ("psnr", "psnr_face", "l1", "ssim", "ssim_face", "perceptual",
                                       "perceptual_name", "identity_distance", "identity_by_yaw",
                                       "identity_by_yaw_expression", "side_coverage", "lipsync")}
    print(json.dumps(summary, indent=1))
    return 0
