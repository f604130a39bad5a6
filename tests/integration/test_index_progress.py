"""What `polyseek index` shows while it works: a status line from the first second
(start-up, "loading model minilm"), a bar that moves as each file is read (not when a
batch of them is committed), and a summary whose time includes the start-up."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

import polyseek.cli.app as cli_app
from polyseek.encoders import clear_encoder_cache
from polyseek.engine import Engine
from polyseek.indexing import Progress
from tests.helpers.cli import cli


class Events(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def status(self, text: str) -> None:
        self.events.append(("status", text))

    def loaded(self, source: str, items: int) -> None:
        self.events.append(("loaded", source))

    def advance(self, files: int, items: int) -> None:
        self.events.append(("committed", files))


def notes(n: int, root: Path) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"note{i:02d}.txt").write_text(f"lighthouse log number {i}", encoding="utf-8")
    return root


def test_each_file_is_reported_when_read_not_when_committed(tmp_path: Path) -> None:
    root = notes(12, tmp_path / "c")
    engine = Engine.open(root, store=tmp_path / "idx", create=True)
    events = Events()
    report = engine.index(progress=events, batch_files=256)
    assert report.added == 12
    kinds = [k for k, _ in events.events]
    assert kinds.count("loaded") == 12
    assert kinds.index("committed") > kinds.index("loaded")  # read before the first commit
    first_commit = kinds.index("committed")
    assert kinds[:first_commit].count("loaded") >= 1
    assert ("status", "updating the search indexes") in events.events
    assert kinds.index("status") > len(kinds) - 1 - kinds[::-1].index("committed")


def test_cli_shows_start_up_and_counts_it_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = notes(3, tmp_path / "c")
    buf = io.StringIO()
    monkeypatch.setattr(cli_app, "err", Console(file=buf, force_terminal=True, width=200))
    clear_encoder_cache()  # the model is loaded inside the command, as in a fresh process
    t0 = time.perf_counter()
    code, out, _ = cli("index", str(root), "--store", str(tmp_path / "idx"))
    wall = time.perf_counter() - t0
    assert code == 0, out
    shown = buf.getvalue()
    assert "loading model minilm" in shown and "indexing" in shown and "3/3" in shown
    found = re.search(r"in ([\d.]+) s \(start-up ([\d.]+) s\)", out)
    assert found, out
    total, startup = float(found.group(1)), float(found.group(2))
    assert total >= wall - 0.3  # everything the user waited for, model loading included
    assert 0 < startup <= total  # both printed to 0.1 s: equal when start-up is all of it
