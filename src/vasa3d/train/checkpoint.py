"""Training checkpoints: one safetensors file whose header carries a JSON manifest and a checksum.

Written to a temporary name and renamed, so a checkpoint that exists is
whole; on load the SHA-256 of every tensor is checked against the
manifest, so a corrupt or truncated file is reported instead of used.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from vasa3d.errors import VasaError
from vasa3d.io.checked_file import CheckedFileError, read_manifest_and_tensors, verify_digest, write_checked

FORMAT = "vasa3d-checkpoint"
VERSION = 1



class CheckpointError(VasaError):
    """A checkpoint file is missing, corrupt, truncated or from another run."""


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, Tensor], meta: dict) -> Path:
    """Write ``tensors`` and JSON-able ``meta`` to ``path`` atomically."""
    return write_checked(path, tensors, {"format": FORMAT, "version": VERSION, "meta": meta})


def load_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, Tensor]]:
    """``(meta, tensors)`` from a checkpoint, after checking its format and checksum.

    Raises:
        CheckpointError: the file is missing, unreadable, truncated or its bytes changed.
    """
    path = Path(path)
    advice = f"delete {path} to start training over"
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        manifest, tensors = read_manifest_and_tensors(path)
        if manifest.get("format") != FORMAT or int(manifest.get("version", -1)) > VERSION:
            raise CheckpointError(f"{path} is not a vasa3d checkpoint this version reads; {advice}")
        verify_digest(manifest, tensors)
    except CheckedFileError as exc:
        why = {"unreadable": f"is corrupt or truncated ({exc.detail[:60]})",
               "no-manifest": "is not a vasa3d checkpoint (no manifest)",
               "checksum": "is corrupt (checksum mismatch)"}[exc.reason]
        raise CheckpointError(f"checkpoint {path} {why}; {advice}") from None
    return manifest["meta"], tensors
