"""The ``vasa3d`` command line.

``create``, ``speak`` and ``demo`` come from :mod:`vasa3d.pipeline`; each room
may add its own subcommands in ``vasa3d/<room>/commands.py`` through a
``register(subparsers)`` function.  Errors a user can fix print one line and
exit with status 2; nothing else is shown.

A room's ``commands.py`` may import torch (its flags come from config
dataclasses), so only the room of the command being run is imported;
``vasa3d --help`` lists the others from :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from vasa3d import __version__
from vasa3d.errors import VasaError

#: rooms whose ``commands.py`` adds subcommands, in the order ``--help`` lists them
ROOMS = ("pipeline_commands", "drive_commands", "motion", "head", "face", "animate", "train", "render", "eval", "live", "serve")

#: every command, the room that registers it and its one-line help, so that ``vasa3d --help`` imports
#: no room (tests/test_cli.py checks this table against what the rooms register)
COMMANDS = {
    "create": ("pipeline_commands", "portrait photo -> trained 3D avatar (.vasa3d)"),
    "speak": ("pipeline_commands", "avatar + speech audio -> talking-head video (mp4)"),
    "demo": ("pipeline_commands", "the astronaut portrait + a synthesized sentence -> out/demo/"),
    "render": ("drive_commands", "avatar + motion file (.npz, ARKit CSV/JSON) -> video"),
    "reenact": ("drive_commands", "avatar + driving video -> the avatar doing what the driver's face does"),
    "export": ("drive_commands", "avatar -> standard 3D Gaussian Splatting .ply (for splat viewers)"),
    "motion": ("motion", "speech audio -> motion latents (lip sync, blinks, gaze, head motion)"),
    "train-audio2motion": ("motion", "train the diffusion audio-to-motion generator on talking videos"),
    "say": ("motion", "offline text-to-speech (the built-in formant synthesizer)"),
    "head": ("head", "the parametric head model: preview its blendshapes and poses"),
    "track": ("head", "track a talking-head video into a motion file (ARKit weights + head pose per frame)"),
    "synth": ("animate", "build a training dataset from one portrait (frames + latents + cameras)"),
    "dataset": ("animate", "import, make from a video, or preview a dataset"),
    "train": ("train", "train a Gaussian avatar on a frame dataset"),
    "eval": ("train", "measure an avatar on a dataset's held-out frames"),
    "live": ("live", "talk to an avatar in real time (microphone, audio file or text) and record it"),
    "serve": ("serve", "the web app: create avatars and talk with them live in the browser"),
}


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one ``error:`` line and exit status 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _register_room(room: str, sub) -> None:
    name = f"vasa3d.{room}" if room.endswith("_commands") else f"vasa3d.{room}.commands"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # a real missing dependency inside the module: show it
            raise
        return
    module.register(sub)


def command_word(argv: list[str]) -> str | None:
    """The command in ``argv`` (the top-level options take no values, so: the first non-option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None, *, lazy: bool = False) -> argparse.ArgumentParser:
    """The ``vasa3d`` parser with every room's commands.

    ``lazy``: import only ``command``'s room (none when ``command`` is None) and list the other
    commands by name and help from :data:`COMMANDS`, so that ``vasa3d --help`` answers at once.
    A command missing from the table imports every room, as without ``lazy``.
    """
    parser = OneLineParser(
        prog="vasa3d",
        description="One portrait photo to a 3D Gaussian talking head that any speech drives (VASA-3D).",
    )
    parser.add_argument("--version", action="version", version=f"vasa3d {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    full = not lazy or (command is not None and command not in COMMANDS)
    for room in ROOMS:
        if full or (command is not None and COMMANDS[command][0] == room):
            _register_room(room, sub)
        else:
            for name, (owner, help_line) in COMMANDS.items():
                if owner == room:
                    sub.add_parser(name, help=help_line, add_help=False)
    for subparser in sub.choices.values():  # --quiet also works after the subcommand
        if not any("--quiet" in a.option_strings for a in subparser._actions):
            subparser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                   help="no progress bars")
    return parser


def _quiet_native_logs() -> None:
    """mediapipe's C++ (glog/absl) and TFLite print INFO/WARNING lines no user needs."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a message comes (an application or a test may swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_messages(quiet: bool = False) -> None:
    """Print the ``vasa3d`` logger's messages on stderr, as plain lines; ``quiet`` keeps only warnings."""
    logger = logging.getLogger("vasa3d")
    if not any(getattr(h, "_vasa3d_cli", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vasa3d_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _terminate_as_interrupt() -> None:
    """``kill`` (SIGTERM) cleans up like Ctrl-C: temporary files are removed on the way out.

    Only in this process: a forked worker inherits the handler, and ``Pool.terminate()`` ends its
    workers with SIGTERM, which must end them quietly rather than print a KeyboardInterrupt traceback.
    """
    import signal
    import threading

    main_pid = os.getpid()

    def interrupt(signum, frame):
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    _quiet_native_logs()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_word(argv), lazy=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag (already printed as one line)
        return int(exc.code or 0)
    show_messages(quiet=getattr(args, "quiet", False))
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    _terminate_as_interrupt()
    try:
        return int(args.func(args) or 0)
    except VasaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; give a shorter or smaller input (see docs/limits.md)", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder that vanished, permissions: what the system said, in one line
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        what = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
        print(f"error: {what}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished outputs are kept, nothing half-written was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
