"""Checked tensor files: safetensors with a JSON manifest and a SHA-256 over the tensors.

Both the ``.vasa3d`` avatar file and training checkpoints are this container:
the standard safetensors layout, whose header's ``__metadata__`` holds one key,
``vasa3d``, a JSON manifest with a ``sha256`` of every tensor.  Writes go to a
temporary name and are renamed, so a file that exists is whole; reads check
the digest, so a corrupt, truncated or edited file is refused, never used.
Nothing is ever unpickled.

Callers add their own ``format`` fields to the manifest and turn
:class:`CheckedFileError` into their own messages.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from vasa3d.io.paths import atomic_output

MANIFEST_KEY = "vasa3d"


class CheckedFileError(Exception):
    """Why a checked file could not be read.

    ``reason`` is ``unreadable`` (not safetensors, truncated), ``no-manifest``
    or ``checksum``; ``detail`` is a short text from the reader.
    """

    def __init__(self, reason: Literal["unreadable", "no-manifest", "checksum"], detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def tensor_digest(tensors: dict[str, Tensor], with_dtype: bool = True) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of ``tensors``, in key order.

    ``with_dtype=False`` is the digest of avatar files of format version 1,
    which left the dtype out; it is kept so that those files still load.
    """
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        if with_dtype:
            h.update(f"{key}|{tuple(t.shape)}|{t.dtype}".encode())
        else:
            h.update(key.encode())
            h.update(str(tuple(t.shape)).encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_checked(path: str | os.PathLike, tensors: dict[str, Tensor], manifest: dict) -> Path:
    """Write ``tensors`` with ``manifest`` (plus its ``sha256``) to ``path`` atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    manifest = {**manifest, "sha256": tensor_digest(tensors)}
    with atomic_output(path) as tmp:  # unique temp name, fsynced before the rename
        save_file(tensors, str(tmp), metadata={MANIFEST_KEY: json.dumps(manifest)})
    return path


def read_manifest_and_tensors(path: str | os.PathLike) -> tuple[dict, dict[str, Tensor]]:
    """``(manifest, tensors)`` of a checked file, before the digest is checked.

    Raises:
        CheckedFileError: ``unreadable`` or ``no-manifest``.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own types for broken headers and short files
        raise CheckedFileError("unreadable", str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__) from None
    try:
        manifest = json.loads(header[MANIFEST_KEY])
    except (KeyError, json.JSONDecodeError):
        raise CheckedFileError("no-manifest") from None
    if not isinstance(manifest, dict):
        raise CheckedFileError("no-manifest")
    return manifest, tensors


def verify_digest(manifest: dict, tensors: dict[str, Tensor], with_dtype: bool = True) -> None:
    """Raise :class:`CheckedFileError` (``checksum``) unless ``manifest['sha256']`` matches ``tensors``."""
    if manifest.get("sha256") != tensor_digest(tensors, with_dtype=with_dtype):
        raise CheckedFileError("checksum")
