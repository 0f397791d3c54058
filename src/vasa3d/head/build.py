"""``build_head``: a head model from its JSON config (built-in when None), and ``--head`` specs.

A head config never names a file.  The FLAME adapter's config (what an avatar file
records) holds the model file's SHA-256; the file itself comes from the user's own
command line (``--head flame:PATH``, ``--head-model PATH``) as ``model_file``, and is
refused unless its digest is the recorded one.  So an avatar file handed over by
someone else can ask for a model but cannot make vasa3d open any path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vasa3d.arkit import ARKIT_NAMES
from vasa3d.errors import InputError, MissingAssetError
from vasa3d.head.model import HeadModel

BUILTIN_CONFIG = {"kind": "builtin", "version": 3}
FLAME_KEYS = {"kind", "sha256", "n_shape", "n_expression"}


def build_head(config: dict | None = None, model_file: str | os.PathLike | None = None) -> HeadModel:
    """Build a head model.

    Args:
        config: ``None`` or ``{"kind": "builtin", ...}`` for the built-in head;
            ``{"kind": "flame"}`` (optionally ``sha256``, ``n_shape``, ``n_expression``) for the
            FLAME adapter (:func:`vasa3d.head.flame.load_flame`).
        model_file: the FLAME model file, from the user; must have the config's ``sha256`` if it has one.

    Raises:
        InputError: an unknown kind, a malformed FLAME record, or a model file that is not the recorded one.
        MissingAssetError: a FLAME config without ``model_file``.
    """
    config = dict(BUILTIN_CONFIG if config is None else config)
    kind = config.get("kind", "builtin")
    if kind == "builtin":
        from vasa3d.head.builtin import BUILTIN_VERSIONS, REGIONS, build_builtin_arrays

        version = config.get("version", 1)
        if set(config) - {"kind", "version"} or version not in BUILTIN_VERSIONS or isinstance(version, bool):
            raise InputError(f"the built-in head record {str(config)[:80]} is not one this vasa3d knows "
                             f"(versions {', '.join(map(str, BUILTIN_VERSIONS))}); re-create the avatar")
        return HeadModel(build_builtin_arrays(version), {"kind": "builtin", "version": version}, REGIONS,
                         ARKIT_NAMES)
    if kind == "flame":
        from vasa3d.head.flame import load_flame

        n_shape, n_expression, sha = check_flame_record(config)
        if model_file is None:
            raise MissingAssetError(flame_file_needed(sha))
        return load_flame(model_file, n_shape=n_shape, n_expression=n_expression, sha256=sha)
    raise InputError(f"unknown head model kind {str(kind)[:40]!r}; use 'builtin' or 'flame'")


def check_flame_record(config: dict) -> tuple[int, int, str | None]:
    """``(n_shape, n_expression, sha256 or None)`` of a FLAME head config, checked (it may come from a file)."""
    extra = set(config) - FLAME_KEYS
    if extra:  # e.g. a "path": a head record never names a file, and one that does is not ours
        raise InputError(f"the FLAME head record holds {', '.join(sorted(map(str, extra)))[:60]}, which vasa3d "
                         "never reads from a file; re-create the avatar")
    n_shape, n_expression = config.get("n_shape", 100), config.get("n_expression", 50)
    for name, value, top in (("n_shape", n_shape, 300), ("n_expression", n_expression, 100)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
            raise InputError(f"the FLAME head record's {name} is not a count from 1 to {top}")
    sha = config.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise InputError("the FLAME head record's sha256 is not a SHA-256 digest")
    return n_shape, n_expression, sha


def flame_file_needed(sha: str | None) -> str:
    """The message when an avatar on FLAME is loaded without the model file."""
    which = f" (SHA-256 {sha[:12]}...)" if sha else ""
    return (f"this avatar is built on a FLAME head model{which}, which vasa3d does not ship and never opens by a "
            "path named in an avatar file: give your FLAME model file with --head-model PATH")


def parse_head_spec(spec: str) -> tuple[dict | None, Path | None]:
    """``builtin`` | ``flame:PATH`` (a ``--head`` flag) -> ``(config, model_file)``.

    Raises:
        InputError: another spec.  MissingAssetError: ``PATH`` is not a file.
    """
    spec = str(spec).strip()
    if spec in ("", "builtin"):
        return None, None
    if spec.startswith("flame:") and len(spec) > len("flame:"):
        path = Path(spec[len("flame:"):]).expanduser()
        if not path.is_file():
            raise MissingAssetError(f"--head: FLAME model file not found: {path}; download FLAME 2020/2023 from "
                                    "https://flame.is.tue.mpg.de (registration) and pass its .pkl")
        return {"kind": "flame"}, path
    raise InputError(f"bad --head {spec[:60]!r}: use builtin or flame:PATH (your FLAME model .pkl)")
