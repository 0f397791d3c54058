"""Output paths, temporary files and work-folder locks.

Three promises to the user, kept here for every command:

* an output is never one of the inputs (compared as files, so a symlink or a
  hard link to an input is refused too) and its extension fits what the
  command writes;
* a file appears under its name only when it is complete: it is written to a
  temporary file created exclusively (``O_EXCL``, so a planted symlink is never
  followed) beside it, flushed to disk and renamed; the temporary file is
  removed on every error and on Ctrl-C;
* a work folder is used by one run at a time (:class:`FolderLock`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from vasa3d.errors import InputError, VasaError

PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file or folder (through symlinks and hard links).

    A path that does not exist is compared by its resolved name, so an output
    that does not exist yet is never "the same" as an existing input, but two
    spellings of one new name are.
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: PathLike, folder: PathLike) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def _clash(out: Path, inputs: Iterable[PathLike | None]) -> Path | None:
    for item in inputs:
        if item is None or str(item) == "":
            continue
        if same_file(out, item):
            return Path(item)
    return None


def check_output_path(path: PathLike, inputs: Iterable[PathLike | None] = (),
                      suffixes: Iterable[str] | None = None, what: str = "output") -> Path:
    """Refuse an unusable output file path before any work is done.

    Args:
        path: the file to write.
        inputs: every file and folder the command reads; the output may be none of them.
        suffixes: the extensions (with the dot, any case) the command can write; ``None``: any.
        what: what the output is, for the message ("video", "avatar file").

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        InputError: the folder is missing or not writable, the path is a folder, the
            extension does not fit, or the path is one of the inputs.
    """
    p = Path(path)
    if str(path) == "":
        raise InputError(f"the {what} path is empty; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent} (create it first)")
    if p.is_dir():
        raise InputError(f"output path is a folder: {p} (give a file name)")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if p.suffix.lower() not in allowed:
            got = f"'{p.suffix}'" if p.suffix else "no extension"
            raise InputError(f"the {what} must end in {' or '.join(allowed)} ({p.name} has {got})")
    clash = _clash(p, inputs)
    if clash is not None:
        raise InputError(f"the {what} {p} is the input {clash}; give a new file name so the input is kept")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {parent}")
    return p


def check_output_dir(path: PathLike, inputs: Iterable[PathLike | None] = (), what: str = "output folder") -> Path:
    """Refuse an output folder that is a file, has no parent, or is (or would hold) an input."""
    p = Path(path)
    if str(path) == "":
        raise InputError(f"the {what} path is empty; give a folder name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent} (create it first)")
    if p.exists() and not p.is_dir():
        raise InputError(f"{p} exists and is not a folder; give a new {what}")
    for item in inputs:
        if item is None or str(item) == "":
            continue
        if same_file(p, item) or _inside(item, p):  # the output would be, or would hold, an input
            raise InputError(f"the {what} {p} overlaps the input {item}; give a separate folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {parent}")
    return p


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def os_error(exc: OSError, path: PathLike) -> VasaError:
    """One line for an ``OSError`` met while writing ``path``."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return VasaError(f"no space left on the disk while writing {path}; free some space and run again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return VasaError(f"cannot write {path}: permission denied")
    return VasaError(f"cannot write {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_output(path: PathLike, suffix: str | None = None, fsync: bool = True) -> Iterator[Path]:
    """Yield a new, empty temporary file beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name is unique per call (``tempfile.mkstemp``: created with
    ``O_CREAT | O_EXCL``, never through a symlink someone planted) and starts
    with a dot; it ends in ``suffix`` (default: ``path``'s own extension) so
    that writers choosing a format by extension still work.  On any exception,
    Ctrl-C included, the temporary file is removed and ``path`` is untouched;
    an ``OSError`` (full disk, permissions) becomes one :class:`VasaError` line.
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    ext = p.suffix if suffix is None else suffix
    try:
        fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".part{ext}", dir=folder)
    except OSError as exc:
        raise os_error(exc, p) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, p)
        if fsync:
            _fsync_dir(folder)
    except OSError as exc:
        raise os_error(exc, p) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_output`."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


class FolderLock:
    """An exclusive ``fcntl.flock`` on ``folder/.lock`` held while a run uses ``folder``.

    The lock goes with the process: a run killed with ``kill -9`` leaves no
    stale lock behind.  A second run that finds the lock held raises one
    :class:`InputError` line naming the folder.
    """

    def __init__(self, folder: PathLike, what: str = "work folder"):
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        import fcntl

        self.folder.mkdir(exist_ok=True)
        lock = self.folder / ".lock"
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(lock, flags, 0o600)
        except OSError as exc:
            raise os_error(exc, lock) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(f"the {self.what} {self.folder} is in use by another vasa3d run; "
                             "wait for it to finish or stop it") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
