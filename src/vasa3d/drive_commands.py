"""``vasa3d render``, ``vasa3d reenact`` and ``vasa3d export``.

Nothing heavy is imported here: the jobs load torch and the rooms when they run.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("vasa3d")

BACKGROUND_FLAG_HELP = ("black, white, #RRGGBB, an image file, portrait (the avatar's photo, the person removed "
                        "and the shoulders following the head) or transparent (OUTPUT .webm with alpha, or a "
                        "folder for PNGs) (default: black)")


def add_render_args(p: argparse.ArgumentParser) -> None:
    """The flags ``render`` and ``reenact`` share (the fields of :class:`vasa3d.drive.RenderConfig`)."""
    p.add_argument("--camera", default="front",
                   help="front (the portrait's view), orbit (+-30 degrees of yaw) or yaw=DEG,pitch=DEG (default: front)")
    p.add_argument("--size", type=int, default=512, metavar="INT", help="output width and height in pixels (default: 512)")
    p.add_argument("--backend", default="auto", choices=["auto", "cpu", "torch", "gsplat"],
                   help="rasterizer (default: auto)")
    p.add_argument("--background", default="black", metavar="BG", help=BACKGROUND_FLAG_HELP)
    add_head_model_arg(p)


def add_head_model_arg(p) -> None:
    p.add_argument("--head-model", default="", metavar="PATH",
                   help="your FLAME model file, for an avatar made with --head flame:PATH (docs/head.md)")


def _config(args: argparse.Namespace):
    from vasa3d.drive import RenderConfig

    return RenderConfig(camera=args.camera, size=args.size, backend=args.backend, background=args.background)


def register(sub) -> None:
    p = sub.add_parser("render", help="avatar + motion file (.npz, ARKit CSV/JSON) -> video",
                       description="Render the avatar doing what a motion file says: a vasa3d motion file "
                                   "(.npz, from 'vasa3d motion'), ARKit blendshapes as Live Link Face records them "
                                   "(.csv, with HeadYaw/HeadPitch/HeadRoll) or ARKit JSON. The video has the "
                                   "motion's frame rate.")
    p.add_argument("avatar", help="a .vasa3d file from 'vasa3d create'")
    p.add_argument("motion", help="motion file: .npz, .csv or .json")
    p.add_argument("-o", "--output", required=True, help="video to write: .mp4, .webm, or for --background "
                                                          "transparent a .webm or a folder of PNGs")
    p.add_argument("--audio", metavar="FILE", help="sound to put in the video (wav, mp3, m4a...)")
    add_render_args(p)
    p.set_defaults(func=_render)

    p = sub.add_parser("reenact", help="avatar + driving video -> the avatar doing what the driver's face does",
                       description="Track the face in a driving video (any person) and render the avatar with "
                                   "the same expressions and head motion, with the video's sound.")
    p.add_argument("avatar", help="a .vasa3d file from 'vasa3d create'")
    p.add_argument("video", help="driving video with one visible face")
    p.add_argument("-o", "--output", required=True, help="video to write (.mp4; see 'render' for alpha)")
    p.add_argument("--side-by-side", action="store_true", help="show the driving video left of the avatar")
    add_render_args(p)
    p.set_defaults(func=_reenact)

    p = sub.add_parser("export", help="avatar -> standard 3D Gaussian Splatting .ply (for splat viewers)",
                       description="Write the avatar's Gaussians as a standard 3DGS PLY file: neutral, posed by "
                                   "one frame of a motion file, or every N-th frame into a folder.")
    p.add_argument("avatar", help="a .vasa3d file from 'vasa3d create'")
    p.add_argument("-o", "--output", required=True, help="a .ply file; with --every, a folder")
    p.add_argument("--motion", metavar="FILE", help="motion file (.npz, .csv, .json) to pose the avatar with")
    p.add_argument("--frame", type=int, metavar="N", help="the motion frame to export (default: 0)")
    p.add_argument("--every", type=int, metavar="N", help="export every N-th motion frame into the folder OUTPUT")
    add_head_model_arg(p)
    p.set_defaults(func=_export)


def _render(args: argparse.Namespace) -> int:
    from vasa3d.drive import render

    path = render(args.avatar, args.motion, args.output, args.audio, _config(args), quiet=args.quiet,
                  head_model=args.head_model or None)
    log.info("wrote %s", path)
    return 0


def _reenact(args: argparse.Namespace) -> int:
    from vasa3d.drive import reenact

    path = reenact(args.avatar, args.video, args.output, _config(args), side_by_side=args.side_by_side,
                   quiet=args.quiet, head_model=args.head_model or None)
    log.info("wrote %s", path)
    return 0


def _export(args: argparse.Namespace) -> int:
    from vasa3d.export import export

    export(args.avatar, args.output, args.motion, args.frame, args.every, quiet=args.quiet,
           head_model=args.head_model or None)
    return 0
