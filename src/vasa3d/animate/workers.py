"""Worker processes for the animator's frames (dataset building, fresh training frames).

Workers are started from multiprocessing's fork server, a clean single-threaded process that has
imported this room once, and never forked from the caller:

* a fork of a threaded process (torch's and numba's OpenMP threads, progress threads) copies
  locks that another thread may hold at that moment, and the child can wait on one for ever;
  GNU OpenMP also ends a child forked from a process that has used it;
* the server forks each pool's workers in milliseconds (spawning imports torch in every worker).

The workers do not import the caller's ``__main__`` script, as multiprocessing's workers otherwise
do: a user script that calls ``vasa3d.create`` without an ``if __name__ == "__main__":`` guard
would run again in every worker, fail, and have its workers restarted for ever.  So work that
refers to something defined in ``__main__`` is not sent to workers (:func:`can_send`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import pickle
import sys
from multiprocessing.pool import Pool

__all__ = ["can_send", "start_pool"]


def can_send(obj) -> bool:
    """Whether ``obj`` can go to a worker: it pickles, and without anything from the ``__main__`` script."""
    try:
        data = pickle.dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return b"__main__" not in data


@contextlib.contextmanager
def _main_script_hidden():
    """While workers start, ``__main__`` names no file or module, so that they do not import it."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    if "__spec__" in saved:
        main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.update(saved)


def _context():
    from multiprocessing import forkserver

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["vasa3d.animate"])  # no effect once the server runs (a test may have started it)
    try:
        forkserver.ensure_running()
    except ChildProcessError:  # this process was forked from one that runs a server, which is not ours to use
        return mp.get_context("spawn")
    return ctx


def start_pool(workers: int, initializer, initargs: tuple) -> Pool:
    """A pool of ``workers`` processes started as the module docstring says; ``initializer(*initargs)``
    runs in each.  Its workers keep SIGTERM's default action: ``terminate()`` ends them wherever they are."""
    with _main_script_hidden():
        return _context().Pool(workers, initializer=initializer, initargs=initargs)
