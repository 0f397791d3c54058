"""``vasa3d create``, ``vasa3d speak`` and ``vasa3d demo``."""

from __future__ import annotations

import argparse

from vasa3d.config import add_dataclass_args, dataclass_from_args
from vasa3d.pipeline import CreateConfig, SpeakConfig, create, demo, speak


def register(sub) -> None:
    p = sub.add_parser("create", help="portrait photo -> trained 3D avatar (.vasa3d)",
                       description="Fit the head to the portrait, synthesize training frames with the portrait "
                                   "animator, train the Gaussian avatar and save it as one .vasa3d file.")
    p.add_argument("portrait", help="a photo with one face (JPEG or PNG)")
    p.add_argument("-o", "--output", required=True, help="avatar file to write, e.g. me.vasa3d")
    add_dataclass_args(p, CreateConfig)
    p.set_defaults(func=_create)

    p = sub.add_parser("speak", help="avatar + speech audio -> talking-head video (mp4)",
                       description="Turn speech into motion (lip sync, blinks, head motion) and render the avatar "
                                   "at 25 fps, with the audio muxed in.")
    p.add_argument("avatar", help="a .vasa3d file from 'vasa3d create'")
    p.add_argument("audio", help="speech recording: wav, mp3, ogg, m4a, flac")
    p.add_argument("-o", "--output", required=True, help="video file to write (.mp4)")
    add_dataclass_args(p, SpeakConfig)
    p.set_defaults(func=_speak)

    p = sub.add_parser("demo", help="the astronaut portrait + a synthesized sentence -> out/demo/",
                       description="Builds out/demo/avatar.vasa3d from scikit-image's astronaut portrait and "
                                   "renders out/demo/front.mp4 and out/demo/orbit.mp4 speaking a sentence "
                                   "made by the built-in speech synthesizer.")
    p.add_argument("-o", "--output", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--preset", default="demo", choices=["demo", "cpu-quick", "gpu", "paper"],
                   help="training preset (default: demo)")
    p.set_defaults(func=_demo)


def _create(args: argparse.Namespace) -> int:
    path = create(args.portrait, args.output, dataclass_from_args(CreateConfig, args), quiet=args.quiet)
    print(f"wrote {path}")
    return 0


def _speak(args: argparse.Namespace) -> int:
    path = speak(args.avatar, args.audio, args.output, dataclass_from_args(SpeakConfig, args), quiet=args.quiet)
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    demo(args.output, preset=args.preset, quiet=args.quiet)
    return 0
