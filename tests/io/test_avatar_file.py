import pytest
import torch

from vasa3d.errors import InputError
from vasa3d.io import read_avatar_file, write_avatar_file


def _payload():
    g = torch.Generator().manual_seed(0)
    return {"kind": "test", "n": 3}, {"a": torch.randn(5, 3, generator=g), "b": torch.arange(4)}


def test_roundtrip_is_lossless(tmp_path):
    cfg, tensors = _payload()
    write_avatar_file(tmp_path / "x.vasa3d", cfg, tensors)
    cfg2, tensors2 = read_avatar_file(tmp_path / "x.vasa3d")
    assert cfg2 == cfg
    assert set(tensors2) == set(tensors)
    for k in tensors:
        assert torch.equal(tensors[k], tensors2[k])


def test_truncated_and_tampered_files_are_refused(tmp_path):
    cfg, tensors = _payload()
    path = tmp_path / "x.vasa3d"
    write_avatar_file(path, cfg, tensors)
    data = path.read_bytes()
    (tmp_path / "trunc.vasa3d").write_bytes(data[: len(data) - 7])
    with pytest.raises(InputError, match="not a valid .vasa3d"):
        read_avatar_file(tmp_path / "trunc.vasa3d")
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    (tmp_path / "flip.vasa3d").write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="checksum"):
        read_avatar_file(tmp_path / "flip.vasa3d")


def test_pickle_is_never_loaded(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    (tmp_path / "evil.vasa3d").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(InputError, match="not a valid .vasa3d"):
        read_avatar_file(tmp_path / "evil.vasa3d")
