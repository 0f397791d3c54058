"""Standard 3DGS PLY files: exact round trip, the field layout, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vasa3d.errors import InputError
from vasa3d.render import Camera, load_ply, rasterize, save_ply

from .scenes import random_scene


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_is_bit_exact(tmp_path, degree):
    g = random_scene(257, seed=degree, sh_degree=degree)
    save_ply(tmp_path / "a.ply", g)
    back = load_ply(tmp_path / "a.ply")
    for a, b in zip(g.tensors(), back.tensors()):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert torch.equal(a, b)
    cam = Camera.orbit(10, 0, 0.7, width=32, height=32, fov_deg=25)
    assert torch.equal(rasterize(g, cam, 32, 32).color, rasterize(back, cam, 32, 32).color)


def test_layout_is_the_3dgs_one(tmp_path):
    g = random_scene(5, seed=1, sh_degree=1)
    save_ply(tmp_path / "a.ply", g)
    raw = (tmp_path / "a.ply").read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    lines = header.decode().splitlines()
    assert lines[:3] == ["ply", "format binary_little_endian 1.0", "element vertex 5"]
    props = [line.split()[2] for line in lines if line.startswith("property float")]
    assert props[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert props[9:18] == [f"f_rest_{i}" for i in range(9)]
    assert props[18:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    table = np.frombuffer(body, dtype="<f4").reshape(5, len(props))
    # f_rest is channel-major: coefficients 1..3 of red, then green, then blue
    assert np.array_equal(table[:, 9:12], g.sh[:, 1:, 0].numpy())
    assert np.array_equal(table[:, 12:15], g.sh[:, 1:, 1].numpy())
    assert np.array_equal(table[:, 18], g.opacity_logits.numpy())
    assert np.array_equal(table[:, 22:26], g.quats.numpy())  # w first
    assert not list(tmp_path.glob("*.tmp"))  # the atomic writer left no temp file


def test_reads_double_properties_and_extra_elements(tmp_path):
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]
    header = "ply\nformat binary_little_endian 1.0\ncomment from another tool\nelement vertex 2\n"
    header += "".join(f"property double {n}\n" for n in names)
    header += "element face 0\nproperty list uchar int vertex_indices\nend_header\n"
    values = np.arange(2 * len(names), dtype="<f8")
    (tmp_path / "b.ply").write_bytes(header.encode() + values.tobytes())
    g = load_ply(tmp_path / "b.ply")
    assert g.sh.shape == (2, 1, 3)
    assert torch.equal(g.means[1], torch.tensor([14.0, 15.0, 16.0]))
    assert torch.equal(g.quats[0], torch.tensor([10.0, 11.0, 12.0, 13.0]))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello", "not a PLY"),
        (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n", "ascii"),
        (b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n" + bytes(4),
         "missing"),
        (b"ply\nformat binary_little_endian 1.0\nelement vertex 9\nproperty float x\n", "end_header"),
    ],
)
def test_bad_files_raise_one_line_input_errors(tmp_path, content, message):
    (tmp_path / "bad.ply").write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_ply(tmp_path / "bad.ply")
    assert "\n" not in str(info.value)


def test_truncated_and_missing_files(tmp_path):
    save_ply(tmp_path / "a.ply", random_scene(10))
    data = (tmp_path / "a.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[:-7])
    with pytest.raises(InputError, match="truncated"):
        load_ply(tmp_path / "cut.ply")
    with pytest.raises(InputError, match="not found"):
        load_ply(tmp_path / "nope.ply")


def _run_limited(code: str, limit: int = 1 << 30):
    """``code`` in a child process that may map at most ``limit`` bytes (an allocation of the claimed size fails)."""
    import resource
    import subprocess
    import sys

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit + (1 << 30), limit + (1 << 30)))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=cap, timeout=120)


def test_a_header_claiming_more_vertices_than_the_file_holds_allocates_nothing(tmp_path):
    save_ply(tmp_path / "a.ply", random_scene(10))
    data = (tmp_path / "a.ply").read_bytes()
    for count in (11, 10 ** 11, 10 ** 30):
        (tmp_path / "big.ply").write_bytes(data.replace(b"element vertex 10\n", f"element vertex {count}\n".encode()))
        with pytest.raises(InputError, match=f"claims {count} vertices") as info:
            load_ply(tmp_path / "big.ply")
        assert "\n" not in str(info.value)
    # 10^9 vertices of 62 floats would be 248 GB: refused under a 2 GB address-space cap, with no MemoryError
    (tmp_path / "big.ply").write_bytes(data.replace(b"element vertex 10\n", b"element vertex 1000000000\n"))
    out = _run_limited("import sys\nfrom vasa3d.errors import InputError\nfrom vasa3d.render.ply import load_ply\n"
                       f"try:\n    load_ply({str(tmp_path / 'big.ply')!r})\nexcept InputError as e:\n    print(e)")
    assert out.returncode == 0 and "claims 1000000000 vertices" in out.stdout, out.stderr[-2000:]


def test_endless_header_lines_and_repeated_properties(tmp_path):
    (tmp_path / "long.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\ncomment " + b"x" * (3 << 20))
    with pytest.raises(InputError, match="end_header"):
        load_ply(tmp_path / "long.ply")
    (tmp_path / "many.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\n" + b"comment hi\n" * 200_000)
    with pytest.raises(InputError, match="end_header"):
        load_ply(tmp_path / "many.ply")
    save_ply(tmp_path / "a.ply", random_scene(3))
    data = (tmp_path / "a.ply").read_bytes()
    (tmp_path / "twice.ply").write_bytes(data.replace(b"property float y\n", b"property float x\n"))
    with pytest.raises(InputError, match="appears twice"):
        load_ply(tmp_path / "twice.ply")
