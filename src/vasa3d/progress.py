"""Progress bars with an ETA for every stage that takes more than a second."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

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
    if quiet:
        yield from items
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
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def stage(description: str, quiet: bool = False) -> Iterator[None]:
    """A spinner with the elapsed time for a step that has no count to show (fitting, decoding)."""
    if quiet:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=1)
        yield
        bar.update(task, completed=1)
