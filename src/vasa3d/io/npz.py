"""Sizes inside an ``.npz`` (a zip of ``.npy`` arrays), read without loading any array.

``np.load`` believes what a member's ``.npy`` header says and allocates that much before reading; a
hostile file can claim terabytes in a few bytes. :func:`npz_layout` reads the zip directory and the
headers only and checks every claimed size against the real file first.
"""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np

__all__ = ["npz_layout"]

_DEFLATE_RATIO = 1100  # zlib cannot expand more than ~1032:1; a claim beyond that is a lie


def npz_layout(path: str | os.PathLike) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Each array of an ``.npz`` as ``name -> (dtype, shape)``, read from the zip directory and the
    ``.npy`` headers only, after checking every size they claim against the real file.

    Raises ValueError (or ``zipfile.BadZipFile``) for a file whose sizes lie, which ``np.load`` would
    otherwise believe and allocate.
    """
    size = os.stat(path).st_size
    out: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in out:
                raise ValueError(f"unexpected member {name[:40]!r}")
            if info.header_offset + info.compress_size > size:
                raise ValueError(f"{name} reaches past the end of the file")
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise ValueError(f"{name} claims {info.file_size} bytes but stores {info.compress_size}")
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                if info.file_size > _DEFLATE_RATIO * info.compress_size + 1024:
                    raise ValueError(f"{name} claims {info.file_size} bytes from {info.compress_size} compressed")
            else:
                raise ValueError(f"{name} uses an unsupported compression")
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"{name} has .npy version {version}")
                header = f.tell()
            if dtype.hasobject:
                raise ValueError(f"{name} holds Python objects")
            claimed = math.prod(shape) * dtype.itemsize
            if header + claimed != info.file_size:
                raise ValueError(f"{name} claims shape {shape} ({claimed} bytes) but holds {info.file_size - header}")
            out[name[:-4]] = (dtype, tuple(shape))
    return out
