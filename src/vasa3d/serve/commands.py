"""``vasa3d serve``: the web app."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the web app: create avatars and talk with them live in the browser",
                       description="Serve the web app: create an avatar from a photo, talk with it live "
                                   "(microphone, audio file or text) over WebRTC; and an HTTP + WebSocket API "
                                   "(docs/serve.md). Listens on 127.0.0.1 unless told otherwise; any other "
                                   "address needs a token on every request.")
    p.add_argument("--avatars", default="avatars", metavar="DIR",
                   help="folder of .vasa3d avatars (listed on the page; new ones are written here) [avatars]")
    p.add_argument("--jobs", default="", metavar="DIR", help="folder for creation jobs and recordings [AVATARS/.jobs]")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument("--port", type=int, default=8000, help="port [8000]")
    p.add_argument("--token", default="", help="access token (default off loopback: a new one, printed)")
    p.add_argument("--max-sessions", type=int, default=0, metavar="N",
                   help="live sessions at once; the next gets a 'busy' reply [2 on a CPU, 4 on a GPU]")
    p.add_argument("--size", type=int, default=384, help="live video size in pixels [384]")
    p.add_argument("--create-frames", type=int, default=0, metavar="N",
                   help="synthetic frames of every creation job (0: the preset's; for quick trials)")
    p.add_argument("--create-iterations", type=int, default=0, metavar="N",
                   help="training iterations of every creation job (0: the preset's; for quick trials)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vasa3d.errors import InputError
    from vasa3d.serve import ServeConfig, serve

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is not a port number (1-65535)")
    if not 64 <= args.size <= 1024:
        raise InputError(f"--size {args.size}: use 64 to 1024 pixels")
    if args.max_sessions < 0 or args.create_frames < 0 or args.create_iterations < 0:
        raise InputError("--max-sessions, --create-frames and --create-iterations cannot be negative")
    config = ServeConfig(avatars=args.avatars, jobs=args.jobs, host=args.host, port=args.port, token=args.token,
                         max_sessions=args.max_sessions, size=args.size, create_frames=args.create_frames,
                         create_iterations=args.create_iterations)
    try:
        serve(config)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0
