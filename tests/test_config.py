import argparse
from dataclasses import dataclass
from typing import Literal

from vasa3d.config import add_dataclass_args, dataclass_from_args, field_docs


@dataclass
class _Cfg:
    size: int = 256
    """Image size in pixels."""
    rate: float = 0.5
    mode: Literal["a", "b"] = "a"
    """Which mode."""
    fast: bool = False


def test_flags_follow_fields_and_only_given_flags_change_values():
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, _Cfg)
    cfg = dataclass_from_args(_Cfg, parser.parse_args(["--size", "64", "--mode", "b", "--fast"]))
    assert cfg == _Cfg(size=64, rate=0.5, mode="b", fast=True)
    base = _Cfg(rate=0.9)
    assert dataclass_from_args(_Cfg, parser.parse_args([]), base=base) == base
    assert "Image size in pixels." in parser.format_help()


def test_field_docs_are_read_from_source():
    assert field_docs(_Cfg) == {"size": "Image size in pixels.", "mode": "Which mode."}
