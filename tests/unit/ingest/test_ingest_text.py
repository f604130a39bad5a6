"""TextLoader: decoding, HTML extraction, chunk offsets, and bad text files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from polyseek.errors import IngestError
from polyseek.ingest import IngestOptions, TextLoader, html_to_text, load_file


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_plain_text_offsets_are_exact(tmp_path: Path) -> None:
    body = " ".join(f"Step {i}: tighten housing bolt {i} to 25 Nm." for i in range(120))
    path = write(tmp_path, "steps.txt", body)
    options = IngestOptions(text_item_chars=1200, passage_chars=300, passage_overlap=50)
    items = TextLoader(options).load(path, "docs/steps.txt")
    assert len(items) > 3
    for i, item in enumerate(items):
        assert item.modality == "text"
        assert item.source == "docs/steps.txt"
        start, end = item.locator.char_start, item.locator.char_end
        assert start is not None and end is not None
        assert body[start:end] == item.text
        assert len(item.text) <= 1200
        assert item.metadata == {"format": "text", "chunk": i, "chunks": len(items)}
        # Sections are embedded passage by passage: overlapping windows covering the text.
        assert len(item.passages) >= (2 if len(item.text) > 300 else 0)
        assert all(p.char_end - p.char_start <= 300 for p in item.passages)
        covered = "".join(item.text[p.char_start : p.char_end] for p in item.passages)
        assert set(item.text.split()) <= set(covered.split())
    assert len({item.id for item in items}) == len(items)
    # Sections do not overlap; together they hold the whole file.
    assert "".join(body[i.locator.char_start : i.locator.char_end] for i in items).replace(
        " ", ""
    ) == body.replace(" ", "")


def test_sample_paper(sample_dir: Path) -> None:
    path = sorted((sample_dir / "papers").glob("*.md"))[0]
    text = path.read_text(encoding="utf-8")
    items = load_file(path, f"papers/{path.name}")
    assert items[0].metadata["title"] == text.splitlines()[0].removeprefix("# ")
    assert all(text[i.locator.char_start : i.locator.char_end] == i.text for i in items)


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", codecs.BOM_UTF8 + "Ünïcode text.".encode())
    (item,) = TextLoader().load(path, "bom.txt")
    assert item.text == "Ünïcode text."
    assert (item.locator.char_start, item.locator.char_end) == (0, 13)


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "wide.txt", "Pump maintenance notes.".encode("utf-16"))
    assert load_file(path)[0].text == "Pump maintenance notes."


def test_markdown_title(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.md", "Intro line\n\n## Filter replacement ##\n\nReplace it.\n")
    (item,) = TextLoader().load(path, "notes.md")
    assert item.metadata["title"] == "Filter replacement"
    assert item.metadata["format"] == "markdown"


HTML = """<!DOCTYPE html>
<html><head><title>  Pump &amp; Filter
 Guide </title>
<style>body { color: red; }</style>
<script>var secret = "do not index";</script></head>
<body><h1>Filter replacement</h1><p>Replace the filter every
   500&nbsp;hours.</p><ul><li>Close the valve</li><li>Open the cover</li></ul>
<noscript>enable javascript</noscript><table><tr><td>M8</td><td>25 Nm</td></tr></table>
<pre>  keep   this
  spacing</pre></body></html>"""


def test_html_visible_text_and_title() -> None:
    text, title = html_to_text(HTML)
    assert title == "Pump & Filter Guide"
    assert "secret" not in text and "color" not in text and "javascript" not in text
    assert "Filter replacement\n\nReplace the filter every 500 hours." in text
    assert "Close the valve\nOpen the cover" in text
    assert "M8 25 Nm" in text
    assert "keep   this" in text


def test_html_loader(tmp_path: Path) -> None:
    path = write(tmp_path, "guide.html", HTML)
    items = TextLoader().load(path, "guide.html")
    text, _ = html_to_text(HTML)
    assert items[0].metadata["title"] == "Pump & Filter Guide"
    assert items[0].metadata["format"] == "html"
    assert all(text[i.locator.char_start : i.locator.char_end] == i.text for i in items)


def test_binary_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, "garbage.txt", b"abc\x00\x01\x02\xff" * 50)
    with pytest.raises(IngestError, match=r"garbage\.txt: binary content \(NUL byte at offset 3\)"):
        load_file(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "Café crème".encode("latin-1"))
    with pytest.raises(IngestError, match=r"latin1\.txt: not valid UTF-8 text \(byte 0xe9 at"):
        load_file(path)


def test_whitespace_only(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.md", "  \n\n\t \n")
    with pytest.raises(IngestError, match=r"blank\.md: no text"):
        load_file(path)


def test_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.txt", b"")
    with pytest.raises(IngestError, match=r"empty\.txt: empty file"):
        load_file(path)
    with pytest.raises(IngestError, match=r"empty\.txt: no text"):
        TextLoader().load(path, "empty.txt")


def test_too_large(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "word " * 1000)
    with pytest.raises(IngestError, match=r"big\.txt: text file too large"):
        TextLoader(IngestOptions(max_text_bytes=1000)).load(path, "big.txt")


def test_directory_named_txt(tmp_path: Path) -> None:
    (tmp_path / "x.txt").mkdir()
    with pytest.raises(IngestError, match=r"x\.txt: is a directory"):
        TextLoader().load(tmp_path / "x.txt", "x.txt")
