"""3D Gaussian Splatting PLY files: the layout every splat viewer reads.

One ``vertex`` element, binary little-endian float32 properties in this
order: ``x y z nx ny nz f_dc_0..2 f_rest_0..(3(K-1)-1) opacity scale_0..2
rot_0..3``.  Values are stored raw, as in the original 3DGS code: opacity
as a logit, scales as natural logs, rotations as unnormalised ``(w, x, y,
z)`` quaternions, normals as zeros.  ``f_rest`` is channel-major: all
higher-order coefficients of red, then green, then blue.

A float32 :class:`Gaussians` survives ``save_ply`` / ``load_ply`` bit for bit.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from .types import Gaussians

_PLY_TYPES = {
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
    "uchar": "u1", "uint8": "u1", "char": "i1", "int8": "i1",
    "ushort": "u2", "uint16": "u2", "short": "i2", "int16": "i2",
    "uint": "u4", "uint32": "u4", "int": "i4", "int32": "i4",
}


def _property_names(n_rest: int) -> list[str]:
    return (
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(n_rest)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )


def save_ply(path: str | os.PathLike, gaussians: Gaussians) -> None:
    """Write ``gaussians`` as a standard 3DGS PLY file (atomically: a temp file, then a rename)."""
    path = Path(path)
    g = gaussians.detach().to("cpu")
    n, k = g.sh.shape[0], g.sh.shape[1]
    rest = g.sh[:, 1:, :].transpose(1, 2).reshape(n, 3 * (k - 1))
    columns = torch.cat(
        [g.means, torch.zeros(n, 3, dtype=g.means.dtype), g.sh[:, 0, :], rest,
         g.opacity_logits[:, None], g.log_scales, g.quats],
        dim=1,
    )
    data = np.ascontiguousarray(columns.to(torch.float32).numpy()).astype("<f4", copy=False)
    names = _property_names(3 * (k - 1))
    header = "ply\nformat binary_little_endian 1.0\nelement vertex {}\n{}end_header\n".format(
        n, "".join(f"property float {name}\n" for name in names)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header.encode("ascii"))
            f.write(data.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_MAX_LINE = 4096  # bytes in one header line
_MAX_HEADER = 1 << 20  # bytes of header in all (a 3DGS header is about 2 KB)


def _read_header(f, path: Path) -> tuple[int, list[tuple[str, str]]]:
    """Vertex count and ``(name, numpy type)`` of each vertex property."""
    if f.readline().strip() != b"ply":
        raise InputError(f"{path} is not a PLY file (no 'ply' magic); give a 3D Gaussian Splatting .ply")
    count, props, fmt, current = None, [], None, None
    while True:
        line = f.readline(_MAX_LINE)
        if not line or f.tell() > _MAX_HEADER:
            raise InputError(f"{path}: the PLY header has no end_header line; the file is truncated or corrupt")
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else None
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise InputError(f"{path}: malformed PLY element line {line.strip()!r}")
            current = words[1]
            if current == "vertex":
                count = int(words[2])
            elif count is None:  # its data would come first and we cannot size list properties
                raise InputError(
                    f"{path}: PLY element {current!r} comes before the vertices; "
                    "this is not a plain 3D Gaussian Splatting file"
                )
        elif words[0] == "property" and current == "vertex":
            if len(words) != 3 or words[1] not in _PLY_TYPES:
                raise InputError(f"{path}: unsupported PLY vertex property {line.strip()!r}")
            if any(words[2] == name for name, _ in props):
                raise InputError(f"{path}: the PLY vertex property {words[2]!r} appears twice")
            props.append((words[2], _PLY_TYPES[words[1]]))
    if fmt != "binary_little_endian":
        raise InputError(f"{path}: PLY format {fmt!r} is not supported; save it as binary_little_endian")
    if count is None:
        raise InputError(f"{path}: the PLY file has no vertex element")
    return count, props


def load_ply(path: str | os.PathLike) -> Gaussians:
    """Read a standard 3DGS PLY file into float32 :class:`Gaussians` (see the module notes for the layout)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"PLY file not found: {path}")
    with open(path, "rb") as f:
        count, props = _read_header(f, path)
        names = {name for name, _ in props}
        required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
        missing = [name for name in required if name not in names]
        if missing:
            raise InputError(
                f"{path}: not a 3D Gaussian Splatting PLY (missing {', '.join(missing)}); "
                "compressed or other splat formats must be converted first"
            )
        dtype = np.dtype([(name, "<" + t) for name, t in props])
        # the header's vertex count against the bytes really there, before anything is allocated
        have = os.fstat(f.fileno()).st_size - f.tell()
        if count * dtype.itemsize > have:
            raise InputError(f"{path}: the PLY header claims {count} vertices ({count * dtype.itemsize} bytes) but "
                             f"the file holds {have} bytes after the header; it is truncated or corrupt")
        raw = f.read(count * dtype.itemsize)
    if len(raw) < count * dtype.itemsize:
        raise InputError(
            f"{path}: the PLY file is truncated ({len(raw)} of {count * dtype.itemsize} vertex bytes)"
        )
    table = np.frombuffer(raw, dtype=dtype, count=count)
    n_rest = sum(1 for name in names if name.startswith("f_rest_"))
    k = 1 + n_rest // 3
    degree = round(math.sqrt(k)) - 1
    if n_rest % 3 or (degree + 1) ** 2 != k or any(f"f_rest_{i}" not in names for i in range(n_rest)):
        raise InputError(f"{path}: {n_rest} f_rest_* properties do not make a full SH degree (need 0, 9, 24 or 45)")

    def cols(*keys: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([table[key].astype(np.float32) for key in keys], axis=1))

    sh0 = cols("f_dc_0", "f_dc_1", "f_dc_2")[:, None, :]
    if n_rest:
        rest = cols(*(f"f_rest_{i}" for i in range(n_rest))).reshape(count, 3, k - 1).transpose(1, 2)
        sh = torch.cat([sh0, rest], dim=1)
    else:
        sh = sh0
    return Gaussians(
        means=cols("x", "y", "z"),
        quats=cols("rot_0", "rot_1", "rot_2", "rot_3"),
        log_scales=cols("scale_0", "scale_1", "scale_2"),
        opacity_logits=cols("opacity")[:, 0].contiguous(),
        sh=sh.contiguous(),
    )
