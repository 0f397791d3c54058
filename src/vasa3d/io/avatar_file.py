"""The ``.vasa3d`` avatar file: one safetensors file whose header holds a JSON manifest.

Layout: the standard safetensors container (an 8-byte header length, a JSON
header, raw little-endian tensor bytes).  The header's ``__metadata__`` has one
key, ``vasa3d``, whose value is the manifest::

    {"format": "vasa3d-avatar", "format_version": 2, "vasa3d_version": "...",
     "sha256": "<hash of every tensor's name, shape, dtype and bytes, in key order>",
     "avatar": <GaussianAvatar.export() config>}

Loading parses JSON and raw arrays only; nothing is ever unpickled.  The manifest's
head record names a head model that vasa3d does not ship (FLAME) by its SHA-256 only;
the model file comes from the user (``head_model``), and a path in a manifest is never opened.  Writes are
atomic (temp file + rename), so an interrupted save never leaves a broken avatar.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from vasa3d import __version__
from vasa3d.errors import InputError
from vasa3d.io.checked_file import CheckedFileError, read_manifest_and_tensors, verify_digest, write_checked

FORMAT = "vasa3d-avatar"
FORMAT_VERSION = 2
"""2: the digest covers each tensor's dtype too; version 1 files (no dtype in the digest) still load."""


def write_avatar_file(path: str | os.PathLike, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write an avatar's exported ``(config, tensors)`` atomically to ``path``."""
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "vasa3d_version": __version__, "avatar": config}
    return write_checked(path, tensors, manifest)


def read_avatar_file(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read ``(config, tensors)`` from a ``.vasa3d`` file, checking format and checksum."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"avatar file not found: {p} (make one with 'vasa3d create PORTRAIT -o {p.name}')")
    bad = f"{p} is not a valid .vasa3d avatar file"
    try:
        manifest, tensors = read_manifest_and_tensors(p)
        if manifest.get("format") != FORMAT:
            raise InputError(f"{bad} (format {manifest.get('format')!r})")
        version = manifest.get("format_version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(f"{bad} (format version {str(version)[:20]!r})")
        if not isinstance(manifest.get("avatar"), dict):
            raise InputError(f"{bad} (its manifest has no avatar settings)")
        if version > FORMAT_VERSION:
            raise InputError(f"{p} was written by a newer vasa3d (format {version}); upgrade vasa3d to read it")
        verify_digest(manifest, tensors, with_dtype=version >= 2)
    except CheckedFileError as exc:
        why = {"unreadable": f"unreadable: {exc.detail}", "no-manifest": "no vasa3d manifest",
               "checksum": "checksum mismatch: the file is corrupt; re-create or re-copy it"}[exc.reason]
        raise InputError(f"{bad} ({why})") from None
    return manifest["avatar"], tensors


def save_avatar(path: str | os.PathLike, avatar) -> Path:
    """Save a :class:`vasa3d.gaussians.GaussianAvatar` as one ``.vasa3d`` file."""
    config, tensors = avatar.export()
    return write_avatar_file(path, config, tensors)


def load_avatar(path: str | os.PathLike, head_model: str | os.PathLike | None = None):
    """Load a :class:`vasa3d.gaussians.GaussianAvatar` from a ``.vasa3d`` file.

    Args:
        path: the avatar file.
        head_model: the user's FLAME model file, for an avatar built on FLAME (its digest must be the
            one the avatar records).
    """
    config, tensors = read_avatar_file(path)
    head_model = check_head_record(path, config, head_model)
    from vasa3d.gaussians import GaussianAvatar

    try:
        return GaussianAvatar.from_export(config, tensors, head_model=head_model)
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise InputError(f"{path} does not hold a usable avatar ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    except MemoryError:
        raise InputError(f"{path} asks for more memory than there is; it is not a usable avatar") from None


def check_head_model(path: str | os.PathLike, head_model: str | os.PathLike | None) -> None:
    """Before long work: the avatar's head record agrees with ``head_model`` (given exactly when the avatar
    is on FLAME, and the very file it was made with).  Reads the file's header only; a file that is
    missing or not an avatar is left to :func:`load_avatar` to report.

    Raises:
        InputError, MissingAssetError: one line saying what to give.
    """
    from safetensors import safe_open

    p = Path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            manifest = json.loads((f.metadata() or {})["vasa3d"])
        config = manifest["avatar"]
        if not isinstance(config, dict):
            raise TypeError(type(config).__name__)
    except Exception:  # a missing or broken file is reported where the avatar is loaded, as before
        return
    head_model = check_head_record(p, config, head_model)
    if head_model is not None:  # check_head_record has checked the record and its digest
        from vasa3d.head.flame import flame_file_digest

        sha = config["head"]["sha256"]
        if flame_file_digest(head_model) != sha:
            raise InputError(f"{head_model} is not the FLAME model {p} was made with (SHA-256 {str(sha)[:12]}...); "
                             "give the same model file")


def check_head_record(path, config: dict, head_model):
    """``head_model`` if the avatar's head needs it; one error line if it is missing, or given for a built-in head."""
    head = config.get("head")
    kind = head.get("kind") if isinstance(head, dict) else None
    if kind == "flame":
        from vasa3d.errors import MissingAssetError
        from vasa3d.head.build import check_flame_record, flame_file_needed

        _, _, sha = check_flame_record(head)
        if sha is None:
            raise InputError(f"{path} names no FLAME model digest; re-create the avatar")
        if not head_model:
            raise MissingAssetError(f"{path}: {flame_file_needed(sha)}")
        return Path(head_model)
    if head_model:
        raise InputError(f"--head-model: {path} is built on the built-in head and needs no model file")
    return None
