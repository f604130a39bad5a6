"""Progress by media time: a video indexed through the real indexer shows how far decoding
got in the Rich bar (forced to terminal mode, written to a string)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

import polyseek.ingest.media as media_mod
from polyseek.cli.progress import RichProgress
from polyseek.engine import Engine
from polyseek.indexing import Progress
from polyseek.ingest import IngestOptions
from tests.helpers.media import Scene, make_video
from tests.helpers.tiny_models import make_tiny_clip


class Recorder(Progress):
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float | None]] = []

    def media(self, source: str, seconds_done: float, seconds_total: float | None) -> None:
        self.calls.append((source, seconds_done, seconds_total))


def test_indexing_a_video_reports_media_time_to_the_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "videos"
    root.mkdir()
    make_video(root / "clip.mp4", [Scene(3, (200, 0, 0)), Scene(4, (0, 0, 200))], audio=False)
    (root / "note.txt").write_text("a text file decodes no media", encoding="utf-8")
    clip = f"clip:{make_tiny_clip(tmp_path / 'clip')}"
    engine = Engine.open(root, store=tmp_path / "idx", encoders=[clip], create=True)
    options = IngestOptions(asr="none")

    recorder = Recorder()
    monkeypatch.setattr(media_mod, "TICK_EVERY_S", 0.0)  # report at every packet
    report = engine.index(progress=recorder, options=options)
    monkeypatch.undo()
    assert report.ok and report.added == 2
    assert {s for s, _, _ in recorder.calls} == {"clip.mp4"}  # the text file reports none
    done = [d for _, d, _ in recorder.calls]
    assert done == sorted(done) and done[-1] == recorder.calls[-1][2]
    assert len({round(d) for d in done}) >= 5  # reported along the way, not only at the end
    assert recorder.calls[-1][2] is not None and abs(recorder.calls[-1][2] - 7.0) < 0.2

    buf = io.StringIO()
    bar = RichProgress(Console(file=buf, force_terminal=True, width=200))
    (root / "clip.mp4").touch()  # new mtime, same bytes: not decoded again
    make_video(root / "clip2.mp4", [Scene(7, (0, 200, 0))], audio=False)
    report = engine.index(progress=bar, options=options)
    assert report.ok and report.added == 1
    out = buf.getvalue()
    assert "media 00:00:07/00:00:07 clip2.mp4" in out
    assert "clip.mp4" not in out and "2/2" in out
