"""Progress bars with an ETA for every stage that takes more than a second."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

#: who hears of progress besides the terminal (the web app's creation jobs); set with :func:`observe`
_observer: ContextVar[Callable[..., None] | None] = ContextVar("vasa3d_progress_observer", default=None)


@contextmanager
def observe(callback: Callable[..., None]) -> Iterator[None]:
    """Call ``callback(description, done, total, preview=None)`` on every step of every bar and stage inside.

    ``preview``, when given, is a function returning an ``(H, W, 3)`` image of the work so far (costly: call
    it rarely). Works with ``quiet`` too.
    """
    token = _observer.set(callback)
    try:
        yield
    finally:
        _observer.reset(token)


def report(description: str, done: int, total: int | None, preview: Callable[[], Any] | None = None) -> None:
    """Tell the observer (if any) that ``description`` is at ``done`` of ``total``."""
    callback = _observer.get()
    if callback is not None:
        callback(description, done, total, preview=preview)


def track(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    quiet: bool = False,
) -> Iterator[T]:
    """Yield ``items`` while drawing a bar with count, elapsed time and ETA.

    With ``quiet`` (or when ``total`` is unknown and cannot be taken from
    ``len(items)``) nothing is drawn.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    report(description, 0, total)
    if quiet:
        for done, item in enumerate(items, 1):
            yield item
            report(description, done, total)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total)
        for done, item in enumerate(items, 1):
            yield item
            bar.advance(task)
            report(description, done, total)


@contextmanager
def stage(description: str, quiet: bool = False) -> Iterator[None]:
    """A spinner with the elapsed time for a step that has no count to show (fitting, decoding)."""
    report(description, 0, None)
    if quiet:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=1)
        yield
        bar.update(task, completed=1)
