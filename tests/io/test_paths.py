"""Output checks, atomic temporary files and work-folder locks (vasa3d.io.paths)."""

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vasa3d.errors import InputError, VasaError
from vasa3d.io.paths import FolderLock, atomic_output, check_output_dir, check_output_path, same_file


def test_same_file_sees_symlinks_hardlinks_and_spellings(tmp_path):
    a = tmp_path / "a.wav"
    a.write_bytes(b"x")
    (tmp_path / "sym.wav").symlink_to(a)
    os.link(a, tmp_path / "hard.wav")
    assert same_file(a, tmp_path / "sym.wav")
    assert same_file(a, tmp_path / "hard.wav")
    assert same_file(a, tmp_path / "." / "a.wav")
    assert not same_file(a, tmp_path / "b.wav")
    assert same_file(tmp_path / "new.mp4", tmp_path / "sub" / ".." / "new.mp4")


@pytest.mark.parametrize("name", ["a.wav", "sym.wav", "hard.wav"])
def test_an_output_that_is_an_input_is_refused(tmp_path, name):
    a = tmp_path / "a.wav"
    a.write_bytes(b"x")
    (tmp_path / "sym.wav").symlink_to(a)
    os.link(a, tmp_path / "hard.wav")
    with pytest.raises(InputError, match="is the input"):
        check_output_path(tmp_path / name, [a], None, "video")
    assert a.read_bytes() == b"x"


@pytest.mark.parametrize("name,ok", [("v.mp4", True), ("V.MP4", True), ("v.txt", False), ("v", False),
                                     ("v.mp4.txt", False)])
def test_extension_must_fit(tmp_path, name, ok):
    if ok:
        assert check_output_path(tmp_path / name, [], (".mp4",), "video").name == name
    else:
        with pytest.raises(InputError, match=r"the video must end in \.mp4"):
            check_output_path(tmp_path / name, [], (".mp4",), "video")


def test_output_folder_checks(tmp_path):
    with pytest.raises(InputError, match="output folder does not exist"):
        check_output_path(tmp_path / "no" / "v.mp4")
    with pytest.raises(InputError, match="is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(InputError, match="path is empty"):
        check_output_path("")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_output_path(ro / "v.mp4")
    finally:
        ro.chmod(0o700)


def test_output_dir_must_not_overlap_inputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "frames").mkdir()
    for bad in (src, src / "frames" / "..", tmp_path):
        with pytest.raises(InputError, match="overlaps the input"):
            check_output_dir(bad, [src])
    assert check_output_dir(tmp_path / "out", [src]) == tmp_path / "out"
    assert check_output_dir(src / "new", [src]) == src / "new"  # a new folder inside an input folder is fine
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_output_dir(tmp_path / "file")


def test_atomic_output_publishes_only_on_success(tmp_path):
    out = tmp_path / "a.bin"
    with atomic_output(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.bin.") and tmp.suffix == ".bin"
        tmp.write_bytes(b"new")
        assert not out.exists()
    assert out.read_bytes() == b"new"
    for exc in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_output(out) as tmp:
                tmp.write_bytes(b"half")
                raise exc
    assert out.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_atomic_output_names_are_unique_and_never_follow_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    names = set()
    for _ in range(50):  # plant links at every name a fixed scheme would use
        for guess in (".a.bin.part", ".a.bin.part.bin", f".a.bin.part{os.getpid()}", "a.bin.part"):
            if not (tmp_path / guess).exists():
                (tmp_path / guess).symlink_to(victim)
        with atomic_output(tmp_path / "a.bin") as tmp:
            assert not tmp.is_symlink()
            names.add(tmp.name)
            tmp.write_bytes(b"data")
    assert len(names) == 50
    assert victim.read_text() == "keep me"


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(VasaError, match="no space left on the disk") as info:
        with atomic_output(tmp_path / "a.bin") as tmp:
            monkeypatch.setattr(os, "fsync", full)
            tmp.write_bytes(b"x")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def _hold_lock(folder, ready, release):
    with FolderLock(folder):
        ready.set()
        release.wait(30)


def test_folder_lock_refuses_a_second_run_and_dies_with_its_process(tmp_path):
    work = tmp_path / "a.vasa3d.work"
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(work, ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(InputError, match="in use by another vasa3d run") as info:
            FolderLock(work).acquire()
        assert str(work) in str(info.value)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # like kill -9: the lock goes with the process
        proc.join(30)
    with FolderLock(work):
        pass


def test_ctrl_c_removes_the_temporary_file(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, time
        from vasa3d.io.paths import atomic_output
        with atomic_output({str(tmp_path / 'v.mp4')!r}) as tmp:
            tmp.write_bytes(b"half")
            print("ready", flush=True)
            time.sleep(30)
    """)
    # a job started in the background inherits SIGINT ignored, and Python then never raises KeyboardInterrupt:
    # give the child the default disposition, as a terminal would
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    assert "KeyboardInterrupt" in proc.stderr.read()
    assert list(tmp_path.iterdir()) == []
