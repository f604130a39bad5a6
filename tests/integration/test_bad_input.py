"""Bad files are reported with path and reason; the run goes on; the exit code says so."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.engine import Engine
from tests.conftest import SAMPLE

runner = CliRunner()


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG header claiming huge dimensions, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def make_bad_collection(root: Path) -> dict[str, str]:
    """Write good and bad files; return bad file -> a word its reason must contain."""
    root.mkdir(parents=True)
    good_pdf = next((SAMPLE / "pdfs").glob("*.pdf")).read_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buf, "PNG")
    png = buf.getvalue()
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(buf, "JPEG")
    jpeg = buf.getvalue()
    (root / "good.txt").write_text(
        "A perfectly fine note about lighthouse keepers.", encoding="utf-8"
    )
    (root / "good.png").write_bytes(png)
    files = {
        "empty.png": b"",
        "empty.pdf": b"",
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 3],
        "corrupt.pdf": b"%PDF-1.7\n" + os.urandom(2000),
        "truncated.pdf": good_pdf[: len(good_pdf) // 3],
        "pdf-named.png": good_pdf,
        "text-named.jpg": b"just some words, not an image at all",
        "binary.txt": os.urandom(3000) + b"\x00\x00",
        "bomb.png": png_bomb(40000, 40000),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    # A folder whose name looks like a file, and a link to nowhere.
    (root / "folder.txt").mkdir()
    (root / "dangling.md").symlink_to(root / "does-not-exist.md")
    reasons = {
        "empty.png": "empty",
        "empty.pdf": "empty",
        "truncated.png": "truncated",
        "truncated.jpg": "truncated",
        "corrupt.pdf": "pdf",
        "truncated.pdf": "pdf",
        "pdf-named.png": "pdf",
        "text-named.jpg": "jpg",
        "binary.txt": "binary",
        "bomb.png": "bomb",
        "dangling.md": "not found",
    }
    return reasons


def test_bad_files_reported_and_the_rest_indexed(tmp_path):
    root = tmp_path / "c"
    reasons = make_bad_collection(root)
    result = runner.invoke(app, ["index", str(root), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    failed = {f["path"]: f["reason"] for f in report["failed"]}
    for name, word in reasons.items():
        assert name in failed, f"{name} not reported: {failed}"
        assert word.lower() in failed[name].lower(), f"{name}: {failed[name]!r} lacks {word!r}"
    assert report["added"] == 2  # good.txt and good.png

    human = runner.invoke(app, ["index", str(root)])
    assert human.exit_code == 1
    assert "failed bomb.png" in human.stdout

    status = json.loads(runner.invoke(app, ["status", "-c", str(root), "--json"]).stdout)
    assert {f["path"] for f in status["failed"]} == set(failed)
    assert status["sources"] == 2

    hits = Engine.open(root).search("lighthouse keepers").hits
    assert hits[0].source == "good.txt"

    # Fixing a file clears its failure on the next run.
    (root / "truncated.png").write_bytes((root / "good.png").read_bytes())
    again = json.loads(runner.invoke(app, ["index", str(root), "--json"]).stdout)
    assert "truncated.png" not in {f["path"] for f in again["failed"]}
    assert again["updated"] == 1


@pytest.mark.slow
def test_ten_thousand_tiny_files(tmp_path):
    root = tmp_path / "many"
    for d in range(10):
        folder = root / f"d{d}"
        folder.mkdir(parents=True)
        for i in range(1000):
            n = d * 1000 + i
            if n % 100 == 0:
                (folder / f"f{n}.png").write_bytes(b"\x89PNG")  # tiny and broken
            else:
                (folder / f"f{n}.txt").write_text(f"note {n}", encoding="utf-8")
    engine = Engine.open(root, create=True)
    report = engine.index()
    assert len(report.failed) == 100
    assert report.added == 9900
    assert engine.status().items == {"text": 9900}
    again = engine.index()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 10000)
    hits = engine.search("note", top=5).hits
    assert len(hits) == 5 and all(h.source.endswith(".txt") for h in hits)
