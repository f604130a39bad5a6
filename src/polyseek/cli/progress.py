"""A Rich progress bar for indexing: files/s, items/s and ETA; silent when not a TTY."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from polyseek.indexing import Progress as ProgressCallback


class RichProgress(ProgressCallback):
    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._items = 0
        self._files = 0
        self._t0 = 0.0

    def start(self, total_files: int) -> None:
        if not self.console.is_terminal or total_files == 0:
            return
        self._t0 = time.perf_counter()
        self._bar = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("index", total=total_files, rate="")

    def advance(self, files: int, items: int) -> None:
        self._files += files
        self._items += items
        if self._bar is None or self._task is None:
            return
        dt = max(time.perf_counter() - self._t0, 1e-6)
        rate = f"{self._files / dt:.1f} files/s, {self._items / dt:.1f} items/s"
        self._bar.update(self._task, advance=files, rate=rate)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
