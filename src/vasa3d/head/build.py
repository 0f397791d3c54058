"""``build_head``: a head model from its JSON config (built-in when None)."""

from __future__ import annotations

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.errors import InputError
from vasa3d.head.model import HeadModel

BUILTIN_CONFIG = {"kind": "builtin", "version": 1}


def build_head(config: dict | None = None) -> HeadModel:
    """Build a head model.

    Args:
        config: ``None`` or ``{"kind": "builtin", ...}`` for the built-in head;
            ``{"kind": "flame", "path": ...}`` for the FLAME adapter
            (:func:`vasa3d.head.flame.load_flame`).
    """
    config = dict(BUILTIN_CONFIG if config is None else config)
    kind = config.get("kind", "builtin")
    if kind == "builtin":
        from vasa3d.head.builtin import REGIONS, build_builtin_arrays

        return HeadModel(build_builtin_arrays(), BUILTIN_CONFIG, REGIONS, ARKIT_NAMES)
    if kind == "flame":
        from vasa3d.head.flame import load_flame

        return load_flame(config["path"], n_shape=config.get("n_shape", 100),
                          n_expression=config.get("n_expression", 50))
    raise InputError(f"unknown head model kind {kind!r}; use 'builtin' or 'flame'")
