"""Limits that keep hostile inputs in check, and say so (issue 15, item 11): a text file
too long for one index gets its first chunks indexed and a note in the report; a path
the system refuses (a name over 255 bytes) is a clear error, not an OSError."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.engine import Engine
from polyseek.ingest import IngestOptions, load_file

runner = CliRunner()


def test_a_huge_unbroken_text_is_capped_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    blob = root / "blob.txt"
    blob.write_text(" ".join(f"word{i}" for i in range(40_000)))  # ~300 KB, no line break
    options = IngestOptions(max_chunks=20)
    items = load_file(blob, "blob.txt", options)
    assert len(items) == 20 and "only the first 20 of" in items[0].metadata["indexing_note"]
    report = Engine.open(root, create=True).index(options=options)
    assert report.added == 1 and report.items == 20
    assert report.notes and report.notes[0][0] == "blob.txt"
    assert report.to_dict()["notes"][0]["note"].startswith("only the first 20 of")


def test_paths_over_255_bytes_are_refused_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("a small file about pumps")
    assert runner.invoke(app, ["index", str(root)]).exit_code == 0
    long = "x" * 300
    for args in (
        ["index", str(root / long)],
        ["remove", str(root / long), "-c", str(root)],
        ["status", "-c", str(root / long)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args[0], result.output, result.exception)
        said = result.stderr.lower()
        assert "name too long" in said or "nothing indexed" in said, result.stderr
        assert not isinstance(result.exception, OSError)
