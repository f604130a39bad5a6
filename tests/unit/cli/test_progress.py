"""The indexing progress bar: rates and ETA on a terminal, nothing when piped."""

from __future__ import annotations

import io

from rich.console import Console

from polyseek.cli.progress import RichProgress


def run_bar(console: Console) -> None:
    bar = RichProgress(console)
    bar.start(total_files=10)
    bar.advance(files=4, items=12)
    bar.advance(files=6, items=3)
    bar.stop()


def test_terminal_shows_rates_and_counts():
    buf = io.StringIO()
    run_bar(Console(file=buf, force_terminal=True, width=160))
    out = buf.getvalue()
    assert "10/10" in out and "files/s" in out and "items/s" in out and "ETA" in out


def test_silent_when_not_a_terminal():
    buf = io.StringIO()
    run_bar(Console(file=buf, force_terminal=False))
    assert buf.getvalue() == ""
