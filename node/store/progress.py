"""A progress display for imports on standard error: bytes read per file, then rows written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["Bar", "Display", "import_progress"]


class _Amount(ProgressColumn):
    def render(self, task: Task) -> Text:
        done, total = int(task.completed), int(task.total or 0)
        if task.fields.get("unit") == "bytes":
            return Text(f"{filesize.decimal(done)}/{filesize.decimal(total)}")
        return Text(f"{done:,}/{total:,} rows")


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        rows: int = task.fields.get("rows", 0)
        elapsed = task.elapsed or 0.0
        rate = f"{rows / elapsed:,.0f} rows/s" if elapsed > 0 else "- rows/s"
        return Text(rate, style="progress.data.speed")


class Bar:
    """One line of the display; does nothing when the display is off."""

    def __init__(self, progress: Progress | None, task: TaskID | None, total: int) -> None:
        self._progress = progress
        self._task = task
        self._total = total

    def update(self, completed: int, rows: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, rows=rows)
            if completed >= self._total:
                self._progress.stop_task(self._task)  # freezes its elapsed time and rate


class Display:
    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress

    def _bar(self, description: str, total: int, unit: str) -> Bar:
        if self._progress is None:
            return Bar(None, None, total)
        task = self._progress.add_task(description, total=total, rows=0, unit=unit)
        return Bar(self._progress, task, total)

    def file(self, path: Path) -> Bar:
        """A bar for reading ``path``: completed is bytes read."""
        return self._bar(f"reading {path.name}", path.stat().st_size, "bytes")

    def writing(self, rows: int) -> Bar:
        """A bar for checking and writing ``rows`` staged rows: completed is rows done."""
        return self._bar("checking and writing", rows, "rows")


@contextmanager
def import_progress(enabled: bool) -> Iterator[Display]:
    """A display on standard error, or a silent one unless ``enabled``."""
    if not enabled:
        yield Display(None)
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _Amount(),
        _RowsPerSecond(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with progress:
        yield Display(progress)
