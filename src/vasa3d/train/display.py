"""The training progress bar: count, elapsed, ETA and the current loss."""

from __future__ import annotations

from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _Silent:
    def update(self, **_kw) -> None:
        pass


class _Bar:
    def __init__(self, progress: Progress, task) -> None:
        self.progress, self.task = progress, task

    def update(self, advance: int = 1, **fields) -> None:
        self.progress.update(self.task, advance=advance, **fields)


@contextmanager
def training_bar(description: str, total: int, start: int = 0, quiet: bool = False):
    """Yield an object with ``update(advance=1, loss=..., n=...)``; draws nothing when ``quiet``."""
    if quiet:
        yield _Silent()
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[n]} gaussians"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task(description, total=total, completed=start, loss=float("nan"), n=0)
        yield _Bar(progress, task)
