"""Training checkpoints: one safetensors file whose header carries a JSON manifest and a checksum.

Written to a temporary name and renamed, so a checkpoint that exists is
whole; on load the SHA-256 of every tensor is checked against the
manifest, so a corrupt or truncated file is reported instead of used.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from vasa3d.errors import VasaError

FORMAT = "vasa3d-checkpoint"
VERSION = 1


class CheckpointError(VasaError):
    """A checkpoint file is missing, corrupt, truncated or from another run."""


def tensor_digest(tensors: dict[str, Tensor]) -> str:
    """SHA-256 over names, shapes, dtypes and bytes of ``tensors`` in key order."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{tuple(t.shape)}|{t.dtype}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, Tensor], meta: dict) -> Path:
    """Write ``tensors`` and JSON-able ``meta`` to ``path`` atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    manifest = {"format": FORMAT, "version": VERSION, "sha256": tensor_digest(tensors), "meta": meta}
    tmp = path.with_name(f".{path.name}.part{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata={"vasa3d": json.dumps(manifest)})
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own types for broken headers and short files
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({str(exc).splitlines()[0][:60]}); {advice}") from None
    try:
        manifest = json.loads(header["vasa3d"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{path} is not a vasa3d checkpoint (no manifest); {advice}") from None
    if manifest.get("format") != FORMAT or int(manifest.get("version", -1)) > VERSION:
        raise CheckpointError(f"{path} is not a vasa3d checkpoint this version reads; {advice}")
    if tensor_digest(tensors) != manifest.get("sha256"):
        raise CheckpointError(f"checkpoint {path} is corrupt (checksum mismatch); {advice}")
    return manifest["meta"], tensors
