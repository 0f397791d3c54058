"""The command line's registration: ``vasa3d --help`` imports no room, and its table matches the rooms."""

from __future__ import annotations

import argparse
import subprocess
import sys

from vasa3d import cli


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_commands_table_matches_what_the_rooms_register():
    registered = {}
    for room in cli.ROOMS:
        parser = cli.OneLineParser(prog="vasa3d")
        sub = parser.add_subparsers()
        cli._register_room(room, sub)
        for action in sub._choices_actions:
            registered[action.dest] = (room, action.help)
    assert registered == cli.COMMANDS


def test_help_imports_no_room_and_no_torch():
    code = ("import sys; from vasa3d.cli import main; rc = main(['--help']); "
            "heavy = sorted(m for m in ('torch', 'numpy', 'mediapipe', 'vasa3d.pipeline') if m in sys.modules); "
            "print(rc, heavy, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "0 []"
    for name in cli.COMMANDS:
        assert f"    {name}" in out.stdout


def test_lazy_parser_parses_a_command_like_the_full_one():
    argv = ["head", "preview", "-o", "sheet.png", "--tile", "96"]
    lazy = cli.build_parser(cli.command_word(argv), lazy=True).parse_args(argv)
    full = cli.build_parser().parse_args(argv)
    assert vars(lazy) == vars(full)
    assert lazy.func is cli.importlib.import_module("vasa3d.head.commands").preview_command


def test_command_word_skips_top_level_options():
    assert cli.command_word(["-q", "speak", "a", "b"]) == "speak"
    assert cli.command_word(["--help"]) is None
    assert cli.command_word([]) is None


def test_sigterm_ends_a_forked_worker_quietly_and_interrupts_the_main_process():
    code = """
import os, signal, sys, time
from vasa3d.cli import _terminate_as_interrupt
_terminate_as_interrupt()
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
time.sleep(0.5)
os.kill(child, signal.SIGTERM)
print("child", os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
except KeyboardInterrupt:
    print("main interrupted")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n")[:2] == ["child 143", "main interrupted"]
    assert "Traceback" not in out.stderr
