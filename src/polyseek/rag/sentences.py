"""Sentences of an item's text, each with its character span, and where it lies in its source.

Answers are quoted and checked at sentence grain, so every sentence keeps the offsets
``(start, end)`` it has in ``item.text``: a citation can then point at the sentence
itself (``chars 812-901`` of a file, or of a page's text), not at a 600-800 character
chunk, and the web UI can highlight it.

Item texts come in three shapes, and the splitter handles each:

- prose (text files, PDF text layers, OCR of scans): lines wrapped inside a paragraph
  are joined, sentences end at ``.``/``!``/``?`` before a capital, digit or quote
  (not after ``e.g.``, ``Fig.``, ``no.`` and the like);
- lines that stand alone: markdown headings, list items, table rows (``| a | b |``),
  and short lines without final punctuation followed by a capital (titles, labels,
  signs and table cells in PDF pages and OCR of images);
- a table row is one sentence, ``a | b`` (its span leaves the outer bars out, so it
  reads back as quoted); its context is the header row, after the heading above the
  table (``Torque values: Fastener | Size | Torque``), so a row is read as a reader
  reads it: "Impeller nut | M12 | 40 Nm" is a torque;
- a short line followed by a lower-case line continues it (a PDF table row wrapped over
  two lines: ``Replace the intake filter cartridge FC-40`` / ``every 500 operating hours``).

A title-like line (a heading, or a short line without final punctuation) is also the
*context* of the sentences after it: questions often name the paper or section ("What
does Flamingo bridge?") while the sentence holding the answer does not.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from polyseek.types import Locator

_BLOCK = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"[^\n]+")
# Sentence ends: punctuation, spaces, then a capital, a digit, a quote or a bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|et al|al|cf|vs|Fig|Figs|Eq|Eqs|Sec|No|no|Nr|nr|rev|Rev|approx|"
    r"resp|Dr|Mr|Mrs|Ms|St|Inc|Ltd|Co|[A-Z])\.)$"
)
# Bullets, numbers and letters of lists; "e ", "o ", "@ " are how OCR often reads a bullet.
_LIST_MARKER = re.compile(
    r"^(?:[-*•·▪‣◦@©®]\s+|[eo]\s+(?=[A-Z])|\(?\d{1,2}[.)]\s+|\(?[a-z][.)]\s+)"
)
_HEADING_MARK = re.compile(r"^#{1,6}\s+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_TERMINAL = (".", "!", "?", ";", ":", ",")
_WORD = re.compile(r"\w+")

MIN_SENTENCE_CHARS = 12
"""Shorter pieces (``CAUTION``, ``25 Nm``, a page number) are no sentence of their own."""
SHORT_LINE = 0.6
SHORT_LINE_CHARS = 40
"""A line shorter than this share of its block's longest line, or than this many
characters, may stand alone (labels, signs, table cells; not wrapped prose)."""
TITLE_MAX_CHARS = 120


@dataclass(frozen=True)
class Sentence:
    """A sentence of an item's text: ``text[start:end]``, whitespace collapsed in ``text``.

    ``context`` is the nearest title-like line before it (heading, title, label), or
    ``""``; ``title_like`` says whether the sentence is such a line itself. ``section``
    is the span of the text under that line: from it (or the text's start) to the next
    title-like line (or the end); a title-like sentence heads its own section.
    """

    start: int
    end: int
    text: str
    context: str = ""
    title_like: bool = False
    section: tuple[int, int] = (0, 0)


def _lines(block: str, offset: int) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line of ``block``, stripped, as offsets + ``offset``."""
    out = []
    for m in _LINE.finditer(block):
        raw = m.group()
        left = len(raw) - len(raw.lstrip())
        right = len(raw.rstrip())
        if right > left:
            out.append((offset + m.start() + left, offset + m.start() + right))
    return out


def _stands_alone(line: str) -> bool:
    return bool(_HEADING_MARK.match(line) or line.startswith("|") or _LIST_MARKER.match(line))


def _units(text: str) -> list[tuple[int, int, bool]]:
    """Runs of lines that read as one piece of prose: (start, end, title_like)."""
    units: list[tuple[int, int, bool]] = []
    pos = 0
    for block_match in [*_BLOCK.finditer(text), None]:
        block_end = block_match.start() if block_match else len(text)
        lines = _lines(text[pos:block_end], pos)
        pos = block_match.end() if block_match else len(text)
        if not lines:
            continue
        longest = max(b - a for a, b in lines)
        run_start, prev = lines[0]
        for a, b in lines[1:]:
            line, last = text[a:b], text[run_start:prev]
            last_line = text[text.rfind("\n", 0, prev) + 1 : prev].strip()
            short = len(last_line) < max(SHORT_LINE * longest, SHORT_LINE_CHARS)
            breaks = (
                _stands_alone(line)
                or _stands_alone(last_line)
                or (short and not last_line.endswith(_TERMINAL) and not line[:1].islower())
            )
            if breaks:
                units.append((run_start, prev, _title_like(last)))
                run_start = a
            prev = b
        units.append((run_start, prev, _title_like(text[run_start:prev])))
    return units


def _title_like(unit: str) -> bool:
    """A heading, or one short line without final punctuation (a title, a label)."""
    if _HEADING_MARK.match(unit):
        return True
    return "\n" not in unit and len(unit) <= TITLE_MAX_CHARS and not unit.endswith(_TERMINAL)


def _split_unit(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside ``text[start:end]`` (a unit), markers and spaces trimmed."""
    spans = []
    cut = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if _ABBREVIATIONS.search(text[cut : m.start()]):  # "e.g. ", "Fig. 2", "no. 4471"
            continue
        closing = len(m.group()) - len(m.group().lstrip("\"')]"))
        spans.append((cut, m.start() + closing))
        cut = m.end()
    spans.append((cut, end))
    out = []
    for a, b in spans:
        piece = text[a:b]
        lead = _HEADING_MARK.match(piece) or _LIST_MARKER.match(piece)
        if lead:
            a += lead.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def _clean(piece: str) -> str:
    piece = " ".join(piece.split())
    if piece.startswith("|"):  # a table row: its cells, separated by " | "
        piece = " | ".join(c.strip() for c in piece.strip("|").split("|"))
    return piece


def _is_sentence(piece: str) -> bool:
    return len(piece) >= MIN_SENTENCE_CHARS and len(_WORD.findall(piece)) >= 2


def _row_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A table row's cells without the outer bars: ``a | b`` of ``| a | b |``."""
    while start < end and (text[start] == "|" or text[start].isspace()):
        start += 1
    while end > start and (text[end - 1] == "|" or text[end - 1].isspace()):
        end -= 1
    return start, end


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` with their spans (see the module doc); fragments dropped."""
    out: list[Sentence] = []
    context = ""
    above = None  # in a table: the context before it (restored after the table)
    heads = [0]  # where each section starts: the text's start, then every title-like line
    units = _units(text)
    for i, (u_start, u_end, title_like) in enumerate(units):
        unit = text[u_start:u_end]
        if _TABLE_RULE.match(unit.strip()):
            continue
        row = unit.startswith("|")
        if row:  # one sentence; a header row (above a rule) is the title of the rows below
            above = context if above is None else above
            nxt = units[i + 1] if i + 1 < len(units) else None
            title_like = nxt is not None and bool(_TABLE_RULE.match(text[nxt[0] : nxt[1]]))
            spans = [_row_span(text, u_start, u_end)]
        else:
            context = context if above is None else above
            above = None
            spans = _split_unit(text, u_start, u_end)
        if title_like:
            heads.append(u_start)
        for a, b in spans:
            piece = _clean(text[a:b])
            if not _is_sentence(piece):
                continue
            out.append(Sentence(a, b, piece, context, title_like, (heads[-1], len(text))))
        if title_like:
            line = _clean(_HEADING_MARK.sub("", unit))
            context = f"{above}: {line}" if row and above else line
    return [_close_section(s, heads) for s in out]


def _close_section(s: Sentence, heads: list[int]) -> Sentence:
    """``s`` with its section ending where the next one starts."""
    i = bisect.bisect_right(heads, s.section[0])
    return s if i >= len(heads) else replace(s, section=(s.section[0], heads[i]))


def sentence_texts(text: str) -> list[str]:
    """Just the sentences of ``text`` (whitespace collapsed)."""
    return [s.text for s in split_sentences(text)]


def sentence_locator(item: Locator, start: int, end: int) -> Locator:
    """Where ``item_text[start:end]`` lies: the item's locator narrowed to those characters.

    A text chunk's offsets are the source's, so the sentence gets source offsets; pages,
    images (OCR), regions and transcripts get offsets into the item's own text, beside the
    page, region or time range the item already names.
    """
    if item.char_start is not None:
        return replace(item, char_start=item.char_start + start, char_end=item.char_start + end)
    return replace(item, char_start=start, char_end=end)
