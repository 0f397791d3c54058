"""The ``vasa3d`` command line.

``create``, ``speak`` and ``demo`` come from :mod:`vasa3d.pipeline`; each room
may add its own subcommands in ``vasa3d/<room>/commands.py`` through a
``register(subparsers)`` function.  Errors a user can fix print one line and
exit with status 2; nothing else is shown.
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


class OneLineParser(argparse.ArgumentParser):
    """A bad flag is one ``error:`` line and exit status 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="vasa3d",
        description="One portrait photo to a 3D Gaussian talking head that any speech drives (VASA-3D).",
    )
    parser.add_argument("--version", action="version", version=f"vasa3d {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for room in ROOMS:
        name = f"vasa3d.{room}" if room.endswith("_commands") else f"vasa3d.{room}.commands"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module: show it
                raise
            continue
        module.register(sub)
    for subparser in sub.choices.values():  # --quiet also works after the subcommand
        if not any("--quiet" in a.option_strings for a in subparser._actions):
            subparser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                   help="no progress bars")
    return parser


def _quiet_native_logs() -> None:
    """mediapipe's C++ (glog/absl) and TFLite print INFO/WARNING lines no user needs."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def show_messages(quiet: bool = False) -> None:
    """Print the ``vasa3d`` logger's messages on stderr, as plain lines; ``quiet`` keeps only warnings."""
    logger = logging.getLogger("vasa3d")
    if not any(getattr(h, "_vasa3d_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._vasa3d_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _terminate_as_interrupt() -> None:
    """``kill`` (SIGTERM) cleans up like Ctrl-C: temporary files are removed on the way out."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    _quiet_native_logs()
    parser = build_parser()
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
