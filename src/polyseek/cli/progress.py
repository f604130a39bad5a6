"""Rich progress bars: indexing (files/s, items/s and ETA) and evaluation (one row per
phase); silent when not a TTY.

While a long video or recording is decoded, the bar also shows how far into it the
decoder is (``media 00:03:12/00:10:00 talk.mp4``), and for a long PDF which page is read
(``page 120/2000 manual.pdf``).
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from polyseek.eval.runner import EvalProgress
from polyseek.indexing import Progress as ProgressCallback
from polyseek.ingest.media import fmt_time


class RichProgress(ProgressCallback):
    """The bar moves as each file is read (a long PDF by its pages, a long recording by its
    media time), not only when a batch is committed; the committed count is shown beside
    it, and so is any other work of the run ("loading model pocketsphinx", "updating the
    search indexes")."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()  # loader threads report files, pages and media time
        self._read = 0  # files read
        self._read_items = 0
        self._partial: dict[str, float] = {}  # share of a long file read so far
        self._committed = 0
        self._t0 = 0.0

    def start(self, total_files: int) -> None:
        if not self.console.is_terminal or total_files == 0:
            return
        self._t0 = time.perf_counter()
        self._bar = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[media]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("index", total=total_files, rate="", media="")

    def status(self, text: str) -> None:
        self._show(media=text, refresh=True)

    def loaded(self, source: str, items: int) -> None:
        with self._lock:
            self._read += 1
            self._read_items += items
            self._partial.pop(source, None)
        self._show(media="")

    def advance(self, files: int, items: int) -> None:
        with self._lock:
            self._committed += files
        self._show()

    def media(self, source: str, seconds_done: float, seconds_total: float | None) -> None:
        total = f"/{fmt_time(seconds_total)}" if seconds_total else ""
        if seconds_total:
            self._part(source, seconds_done / seconds_total)
        # A short file may be decoded between two automatic refreshes.
        self._show(media=f"media {fmt_time(seconds_done)}{total} {source}", refresh=True)

    def pages(self, source: str, done: int, total: int) -> None:
        self._part(source, done / max(total, 1))
        self._show(media=f"page {done}/{total} {source}", refresh=True)

    @property
    def files_done(self) -> float:
        """Files read, a long file counting by its share read so far."""
        with self._lock:  # never behind what is committed (a run reporting no reads)
            return max(self._read + sum(self._partial.values()), float(self._committed))

    def _part(self, source: str, share: float) -> None:
        with self._lock:
            self._partial[source] = min(max(share, 0.0), 0.99)  # whole once it is read

    def _show(self, *, media: str | None = None, refresh: bool = False) -> None:
        if self._bar is None or self._task is None:
            return
        done = self.files_done
        with self._lock:
            dt = max(time.perf_counter() - self._t0, 1e-6)
            rate = (
                f"{self._read / dt:.1f} files/s, {self._read_items / dt:.1f} items/s, "
                f"{self._committed} saved"
            )
        if media is None:
            self._bar.update(self._task, completed=done, rate=rate)
        else:
            self._bar.update(self._task, completed=done, rate=rate, media=media)
        if refresh:
            self._bar.refresh()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class RichEvalProgress(EvalProgress):
    """``polyseek eval``'s phases (indexing each pool, searching each task) as rows of one
    Rich progress display; use as a context manager around the run."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> RichEvalProgress:
        if self.console.is_terminal:
            self._bar = Progress(
                SpinnerColumn(finished_text="[green]✓[/]"),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,  # the tables printed after are what stays
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _finish(self) -> None:
        if self._bar is not None and self._task is not None:
            total = self._bar.tasks[-1].total
            self._bar.update(self._task, completed=total)
            self._bar.stop_task(self._task)

    def phase(self, description: str, total: int) -> None:
        if self._bar is None:
            return
        self._finish()
        self._task = self._bar.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)
