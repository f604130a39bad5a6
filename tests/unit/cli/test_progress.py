"""The indexing progress bar: it moves per file read (a long PDF by its pages), shows the
committed count, rates and ETA on a terminal, and nothing when piped."""

from __future__ import annotations

import io

from rich.console import Console

from polyseek.cli.progress import RichProgress


def run_bar(console: Console) -> None:
    bar = RichProgress(console)
    bar.start(total_files=10)
    for i in range(4):
        bar.loaded(f"f{i}.txt", 3)
    bar.advance(files=4, items=12)
    for i in range(4, 10):
        bar.loaded(f"f{i}.txt", 1)
    bar.advance(files=6, items=6)
    bar.stop()


def test_terminal_shows_rates_and_counts():
    buf = io.StringIO()
    run_bar(Console(file=buf, force_terminal=True, width=160))
    out = buf.getvalue()
    assert "10/10" in out and "files/s" in out and "items/s" in out and "ETA" in out
    assert "10 saved" in out


def test_silent_when_not_a_terminal():
    buf = io.StringIO()
    run_bar(Console(file=buf, force_terminal=False))
    assert buf.getvalue() == ""


def frames(buf: io.StringIO) -> list[str]:
    return [f for f in buf.getvalue().replace("\r", "\n").split("\n") if "indexing" in f]


def test_bar_moves_per_file_and_per_page_before_any_commit():
    buf = io.StringIO()
    bar = RichProgress(Console(file=buf, force_terminal=True, width=200))
    bar.start(total_files=4)
    bar.loaded("a.txt", 1)
    bar.status("reading")  # draws the bar at once
    assert any("1/4" in f and "0 saved" in f for f in frames(buf))
    for page in range(1, 9):  # a long PDF, page by page: half of it is half a file
        bar.pages("manual.pdf", page, 16)
    assert any("page 8/16 manual.pdf" in f for f in frames(buf))
    assert bar.files_done == 1.5
    bar.status("loading model pocketsphinx")
    assert any("loading model pocketsphinx" in f for f in frames(buf))
    bar.loaded("manual.pdf", 40)  # read: the partial share becomes one whole file
    assert bar.files_done == 2
    bar.stop()
