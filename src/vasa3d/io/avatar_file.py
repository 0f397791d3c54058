"""The ``.vasa3d`` avatar file: one safetensors file whose header holds a JSON manifest.

Layout: the standard safetensors container (an 8-byte header length, a JSON
header, raw little-endian tensor bytes).  The header's ``__metadata__`` has one
key, ``vasa3d``, whose value is the manifest::

    {"format": "vasa3d-avatar", "format_version": 1, "vasa3d_version": "...",
     "sha256": "<hash of all tensor bytes, in key order>",
     "avatar": <GaussianAvatar.export() config>}

Loading parses JSON and raw arrays only; nothing is ever unpickled.  Writes are
atomic (temp file + rename), so an interrupted save never leaves a broken avatar.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vasa3d import __version__
from vasa3d.errors import InputError

FORMAT = "vasa3d-avatar"
FORMAT_VERSION = 1


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def write_avatar_file(path: str | os.PathLike, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write an avatar's exported ``(config, tensors)`` atomically to ``path``."""
    p = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vasa3d_version": __version__,
        "sha256": _digest(tensors),
        "avatar": config,
    }
    tmp = p.with_name(f".{p.name}.part")
    try:
        save_file(tensors, str(tmp), metadata={"vasa3d": json.dumps(manifest)})
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def read_avatar_file(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read ``(config, tensors)`` from a ``.vasa3d`` file, checking format and checksum."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"avatar file not found: {p} (make one with 'vasa3d create PORTRAIT -o {p.name}')")
    bad = f"{p} is not a valid .vasa3d avatar file"
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for broken headers/truncation
        raise InputError(f"{bad} (unreadable: {str(exc).splitlines()[0][:80]})") from None
    try:
        manifest = json.loads(meta["vasa3d"])
    except (KeyError, json.JSONDecodeError):
        raise InputError(f"{bad} (no vasa3d manifest)") from None
    if manifest.get("format") != FORMAT:
        raise InputError(f"{bad} (format {manifest.get('format')!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(
            f"{p} was written by a newer vasa3d (format {manifest['format_version']}); upgrade vasa3d to read it"
        )
    if manifest.get("sha256") != _digest(tensors):
        raise InputError(f"{bad} (checksum mismatch: the file is corrupt; re-create or re-copy it)")
    return manifest["avatar"], tensors


def save_avatar(path: str | os.PathLike, avatar) -> Path:
    """Save a :class:`vasa3d.gaussians.GaussianAvatar` as one ``.vasa3d`` file."""
    config, tensors = avatar.export()
    return write_avatar_file(path, config, tensors)


def load_avatar(path: str | os.PathLike):
    """Load a :class:`vasa3d.gaussians.GaussianAvatar` from a ``.vasa3d`` file."""
    config, tensors = read_avatar_file(path)
    from vasa3d.gaussians import GaussianAvatar

    try:
        return GaussianAvatar.from_export(config, tensors)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path} does not hold a usable avatar ({exc.__class__.__name__}: {str(exc)[:80]})") from None
