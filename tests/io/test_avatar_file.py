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


def test_version_1_files_still_load_and_newer_ones_are_refused(tmp_path):
    """Format 1 hashed names, shapes and bytes but not dtypes; such files must keep loading."""
    import json

    from safetensors.torch import save_file

    from vasa3d.io.checked_file import tensor_digest

    cfg, tensors = _payload()
    legacy = {"format": "vasa3d-avatar", "format_version": 1, "vasa3d_version": "0.1.0",
              "sha256": tensor_digest(tensors, with_dtype=False), "avatar": cfg}
    save_file(tensors, str(tmp_path / "old.vasa3d"), metadata={"vasa3d": json.dumps(legacy)})
    cfg2, tensors2 = read_avatar_file(tmp_path / "old.vasa3d")
    assert cfg2 == cfg and torch.equal(tensors2["a"], tensors["a"])
    # a version-2 file must carry the dtype-aware digest: the legacy one is refused
    save_file(tensors, str(tmp_path / "mixed.vasa3d"), metadata={"vasa3d": json.dumps({**legacy, "format_version": 2})})
    with pytest.raises(InputError, match="checksum"):
        read_avatar_file(tmp_path / "mixed.vasa3d")
    save_file(tensors, str(tmp_path / "new.vasa3d"), metadata={"vasa3d": json.dumps({**legacy, "format_version": 99})})
    with pytest.raises(InputError, match="newer vasa3d"):
        read_avatar_file(tmp_path / "new.vasa3d")


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    import vasa3d.io.checked_file as checked

    cfg, tensors = _payload()
    path = tmp_path / "x.vasa3d"
    write_avatar_file(path, cfg, tensors)
    before = path.read_bytes()

    def dies(tensors, filename, metadata=None):
        open(filename, "wb").write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(checked, "save_file", dies)
    with pytest.raises(KeyboardInterrupt):
        write_avatar_file(path, cfg, {"a": torch.zeros(2)})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.vasa3d"]
