"""Typed dataclass configs and the command-line flags generated from them.

A config field and a flag are the same thing: ``field_name`` becomes
``--field-name``, its type and default come from the dataclass, and the
field's docstring (the string literal right under it) becomes the help text.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import textwrap
import typing
from functools import lru_cache


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each field of a dataclass, by field name."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def finite_float(text: str) -> float:
    """A float flag: ``nan`` and ``inf`` are refused (they pass ``float()`` but break every computation)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


#: frame sizes the commands render (pixels, square)
SIZE_RANGE = (16, 4096)


def check_size(size: int, flag: str = "--size") -> int:
    """Refuse a frame size outside :data:`SIZE_RANGE` (0, negative, or more pixels than memory holds)."""
    from vasa3d.errors import InputError

    if not SIZE_RANGE[0] <= int(size) <= SIZE_RANGE[1]:
        raise InputError(f"{flag} {size} is out of range: give {SIZE_RANGE[0]} to {SIZE_RANGE[1]} pixels")
    return int(size)


def _flag(name: str, prefix: str) -> str:
    return "--" + (prefix + name).replace("_", "-")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one flag per simple field of dataclass ``cls`` (bool, int, float, str, Literal)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = getattr(defaults, f.name)
        help_text = docs.get(f.name, "")
        dest = (prefix + f.name).replace("-", "_")
        flag = _flag(f.name, prefix)
        origin = typing.get_origin(tp)
        if tp is bool:
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{help_text} (default: {default})")
        elif origin is typing.Literal:
            parser.add_argument(flag, dest=dest, choices=list(typing.get_args(tp)), default=None,
                                help=f"{help_text} (default: {default})")
        elif tp in (int, float, str):
            parser.add_argument(flag, dest=dest, type=finite_float if tp is float else tp, default=None,
                                metavar=tp.__name__.upper(),
                                help=f"{help_text} (default: {default})")
        # tuples, nested configs and other rich fields are set in code or presets, not flags


def dataclass_from_args(cls: type, args: argparse.Namespace, base=None, prefix: str = ""):
    """``base`` (or the defaults) with every flag the user gave applied on top."""
    base = cls() if base is None else base
    changes = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, (prefix + f.name).replace("-", "_"), None)
        if value is not None:
            changes[f.name] = value
    return dataclasses.replace(base, **changes)
