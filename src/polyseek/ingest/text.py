"""Plain text, Markdown and HTML files, cut into overlapping sentence-aware chunks."""

from __future__ import annotations

import bisect
import codecs
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError, IngestError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest.base import LOADERS, BaseLoader
from polyseek.ingest.detect import TEXT_EXTENSIONS
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)

# A sentence ends after . ! ? (and closing quotes/brackets) followed by whitespace; a line
# break ends one too (headings, list items, table rows rarely end with a full stop).
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u2019\u201d)\]]*(?P<gap>\s+)|(?P<nl>\n)\s*")
_WORD_GAP = re.compile(r"\s+")


def _sentence_bounds(text: str) -> tuple[list[int], list[int]]:
    """Positions where sentences end (exclusive) and where the following ones start."""
    ends: list[int] = []
    starts: list[int] = []
    for m in _SENTENCE_END.finditer(text):
        ends.append(m.start("gap") if m.group("gap") is not None else m.start("nl"))
        starts.append(m.end())
    return ends, starts


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def _trim_space(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def chunk_text(text: str, max_chars: int = 800, overlap: int = 100) -> list[tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` spans of at most ``max_chars`` characters.

    Spans end at sentence (or line) boundaries where one lies in the last two thirds of
    the window, else at a word boundary, else hard at ``max_chars``. Consecutive spans
    overlap by up to ``overlap`` characters, starting at a sentence or word start. Spans
    never begin or end with whitespace, and together they cover every non-whitespace
    character of ``text``. Blank text gives no spans.
    """
    if max_chars <= 0:
        raise ConfigError(f"max_chars must be positive, got {max_chars}")
    if not 0 <= overlap < max_chars:
        raise ConfigError(f"overlap must be in [0, max_chars), got {overlap} (max {max_chars})")
    n = _trim_space(text, 0, len(text))  # trailing whitespace belongs to no span
    ends, starts = _sentence_bounds(text)
    spans: list[tuple[int, int]] = []
    start = _skip_space(text, 0, n)
    while start < n:
        limit = start + max_chars
        if n <= limit:
            spans.append((start, n))
            break
        end = _break_before(text, ends, start, limit, min_fill=max_chars // 3)
        spans.append((start, _trim_space(text, start, end)))
        nxt = _overlap_start(text, starts, start, end, overlap)
        start = _skip_space(text, nxt, n)
    return spans


def _break_before(text: str, ends: list[int], start: int, limit: int, min_fill: int) -> int:
    """The best place to end a span that starts at ``start`` and may not pass ``limit``."""
    i = bisect.bisect_right(ends, limit) - 1
    if i >= 0 and ends[i] >= start + min_fill:
        return ends[i]
    # No sentence end late enough: the last word boundary, if the window has one.
    if text[limit].isspace():
        return limit
    gap = max((m.start() for m in _WORD_GAP.finditer(text, start + 1, limit)), default=-1)
    if gap > start:
        return gap
    return limit  # one very long "word" (a URL, a base64 blob): cut it


def _overlap_start(text: str, starts: list[int], start: int, end: int, overlap: int) -> int:
    """Where the span after ``[start, end)`` begins: a sentence or word start in the overlap."""
    if overlap <= 0:
        return end
    lo = max(end - overlap, start + 1)
    i = bisect.bisect_left(starts, lo)
    if i < len(starts) and starts[i] < end:
        return starts[i]
    m = _WORD_GAP.search(text, lo, end)
    if m is not None and m.end() < end:
        return m.end()
    return end


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
    """UTF-8 ``.txt``/``.md``/``.html`` files -> text chunks with character offsets.

    Offsets index the decoded text (the visible text, for HTML):
    ``text[item.locator.char_start:item.locator.char_end] == item.text``.
    """

    name = "text"
    extensions = TEXT_EXTENSIONS

    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        name = str(path)
        with ingest_errors(path):
            text, metadata = self.read(path)
        spans = chunk_text(text, self.options.chunk_chars, self.options.chunk_overlap)
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
            yield Item(
                source=source,
                modality="text",
                locator=Locator(char_start=start, char_end=end),
                text=text[start:end],
                metadata={**metadata, "chunk": i, "chunks": len(spans)},
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
