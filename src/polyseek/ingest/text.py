"""Plain text, Markdown and HTML files, cut into overlapping sentence-aware chunks."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from polyseek.errors import IngestError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest.base import LOADERS, BaseLoader
from polyseek.ingest.chunking import chunk_text
from polyseek.ingest.detect import TEXT_EXTENSIONS
from polyseek.ingest.passages import make_passages
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)

# --- decoding ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16/32; IngestError otherwise."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    name, f"not valid {encoding.upper()} text: {exc.reason}"
                ) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise IngestError(name, f"binary content (NUL byte at offset {nul}), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            name,
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
        ) from None


# --- HTML -------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl"}
    | {"section", "article", "header", "footer", "nav", "aside", "main", "figure", "form"}
)
_LINE_TAGS = frozenset({"br", "div", "li", "tr", "dt", "dd", "hr", "figcaption", "caption"})
_CELL_TAGS = frozenset({"td", "th"})


_BREAK_RANK = {"": 0, " ": 1, "\n": 2, "\n\n": 3}


class _VisibleText(HTMLParser):
    """Collects visible text; tags become the strongest break seen between two texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._pending = ""  # the break owed before the next text
        self._skip = 0
        self._pre = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "pre":
            self._pre += 1
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        self._break(tag)

    def _break(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            brk = "\n\n"
        elif tag in _LINE_TAGS:
            brk = "\n"
        elif tag in _CELL_TAGS:
            brk = " "
        else:
            return
        if _BREAK_RANK[brk] > _BREAK_RANK[self._pending]:
            self._pending = brk

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title_parts.append(data)
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if data == " " and self._pending:
                return  # layout whitespace between block tags
        if self._pending:
            self.parts.append(self._pending)
            self._pending = ""
        self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text of an HTML document (no script/style) and its ``<title>``, if any."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = [line.strip(" ") for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title_parts).split()) or None
    return text, title


NOTE_KEY = "indexing_note"
"""Item metadata naming something the index run should report about the file (a cap)."""

_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@LOADERS.register("text")
class TextLoader(BaseLoader):
    """UTF-8 ``.txt``/``.md``/``.html`` files -> sections with passages, character offsets.

    A file is cut into sections of at most ``IngestOptions.text_item_chars`` (the items:
    what BM25 scores and a result names), each cut into overlapping passages within
    ``passage_chars`` and ``passage_tokens`` (what the text encoder embeds, one vector
    each; a hit points at the passage that matched; :mod:`polyseek.ingest.passages`).
    Offsets index the decoded text (the visible text, for HTML):
    ``text[item.locator.char_start:item.locator.char_end] == item.text``.
    """

    name = "text"
    extensions = TEXT_EXTENSIONS

    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        name = str(path)
        with ingest_errors(path):
            text, metadata = self.read(path)
        opts = self.options
        spans = chunk_text(text, max(opts.text_item_chars, opts.passage_chars), 0)
        if not spans:
            raise IngestError(name, "no text (the file is blank)")
        cap = self.options.max_chunks
        if len(spans) > cap:
            note = (
                f"only the first {cap} of {len(spans)} chunks are indexed (characters "
                f"0-{spans[cap - 1][1]} of {len(text)}; IngestOptions.max_chunks)"
            )
            logger.warning("%s: %s", name, note)
            metadata = {**metadata, NOTE_KEY: note}
            spans = spans[:cap]
        for i, (start, end) in enumerate(spans):
            body = text[start:end]
            passages = make_passages(
                body,
                None,
                [(0, len(body))],
                max_chars=opts.passage_chars,
                max_tokens=opts.passage_tokens,
                overlap=opts.passage_overlap,
            )
            if len(passages) <= 1:
                passages = []  # one window: the item's text is its only vector
            yield Item(
                source=source,
                modality="text",
                locator=Locator(char_start=start, char_end=end),
                text=body,
                metadata={**metadata, "chunk": i, "chunks": len(spans)},
                passages=passages,
            )

    def read(self, path: Path) -> tuple[str, dict[str, Any]]:
        """The searchable text of ``path`` (offsets refer to it) and file-level metadata."""
        name = str(path)
        limit = self.options.max_text_bytes
        size = path.stat().st_size
        if size > limit:
            raise IngestError(
                name,
                f"text file too large ({size / 2**20:.1f} MiB > limit {limit / 2**20:.1f} MiB)",
                hint="raise IngestOptions.max_text_bytes to index it",
            )
        text = decode_text(path.read_bytes(), name)
        suffix = path.suffix.lower()
        metadata: dict[str, Any] = {}
        if suffix in (".html", ".htm"):
            text, title = html_to_text(text)
            metadata["format"] = "html"
        else:
            metadata["format"] = "markdown" if suffix == ".md" else "text"
            m = _MD_HEADING.search(text) if suffix == ".md" else None
            title = m.group(1).strip() if m else None
        if title:
            metadata["title"] = title
        return text, metadata
