"""The training progress bar: count, elapsed, ETA and the current loss."""

from __future__ import annotations

from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vasa3d.progress import report


class _Silent:
    def __init__(self, description: str, total: int, start: int) -> None:
        self.description, self.total, self.done = description, total, start

    def update(self, advance: int = 1, preview=None, **_fields) -> None:
        self.done += advance
        report(self.description, self.done, self.total, preview=preview)


class _Bar(_Silent):
    def __init__(self, progress: Progress, task, description: str, total: int, start: int) -> None:
        super().__init__(description, total, start)
        self.progress, self.task = progress, task

    def update(self, advance: int = 1, preview=None, **fields) -> None:
        self.progress.update(self.task, advance=advance, **fields)
        super().update(advance, preview)


@contextmanager
def training_bar(description: str, total: int, start: int = 0, quiet: bool = False):
    """Yield an object with ``update(advance=1, loss=..., n=..., preview=None)``; draws nothing when ``quiet``.

    Every update also goes to :func:`vasa3d.progress.report` (with ``preview``: a function that renders
    the avatar so far, for observers that show one).
    """
    report(description, start, total)
    if quiet:
        yield _Silent(description, total, start)
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
        yield _Bar(progress, task, description, total, start)
