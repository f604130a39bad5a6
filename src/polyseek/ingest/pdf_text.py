"""A page's text built from its words, so every character offset maps to a box.

The text is rebuilt from word boxes (MuPDF's ``get_text("words")`` for born-digital pages,
tesseract's word iterator for scans): words of a line joined by one space, lines and
blocks by a newline (scans: paragraphs by a blank line, as tesseract writes them). On 215
pages of three real manuals this equals MuPDF's own ``get_text("text")`` up to runs of
whitespace and control characters. Boxes are in PDF points of the page *as displayed*
(rotation applied, origin top-left), the space of ``Item.image``: multiply by
``image.width / metadata["width"]`` to get pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from polyseek.ingest.passages import Box, WordBoxes, round_box, union_box

Matrix = tuple[float, float, float, float, float, float]


def transform_box(box: Sequence[float], m: Matrix | None) -> Box:
    """``box`` mapped by the affine matrix ``m`` (``None``: unchanged), normalised."""
    x0, y0, x1, y1 = float(box[0]), float(box[1]), float(box[2]), float(box[3])
    if m is None:
        return (x0, y0, x1, y1)
    a, b, c, d, e, f = m
    xs = (a * x0 + c * y0 + e, a * x1 + c * y1 + e)
    ys = (b * x0 + d * y0 + f, b * x1 + d * y1 + f)
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass
class TextBlock:
    """A block of lines (MuPDF block, tesseract paragraph): its span of the page text."""

    number: int  # MuPDF block number / paragraph number, in reading order
    start: int
    end: int
    bbox: Box
    lines: int
    group: int = 0  # tesseract block the paragraph belongs to (scans)

    @property
    def chars(self) -> int:
        return self.end - self.start


@dataclass
class PageText:
    """The text of a page with the box of each word and the span of each block."""

    text: str = ""
    words: WordBoxes = field(default_factory=WordBoxes)
    blocks: list[TextBlock] = field(default_factory=list)

    def visible_chars(self) -> int:
        return sum(1 for ch in self.text if not ch.isspace())

    def box(self, start: int, end: int) -> Box | None:
        return self.words.box(start, end)


WordTuple = tuple[float, float, float, float, str, int, int, int]
"""``(x0, y0, x1, y1, word, block, line, word_no)``, as PyMuPDF's ``get_text("words")``."""


def clip_box(box: Box, limit: Box) -> Box:
    """``box`` cut to ``limit`` (a box wholly outside becomes an empty box on its edge)."""
    x0, y0 = min(max(box[0], limit[0]), limit[2]), min(max(box[1], limit[1]), limit[3])
    x1, y1 = max(min(box[2], limit[2]), x0), max(min(box[3], limit[3]), y0)
    return (x0, y0, x1, y1)


def build_page_text(
    words: Iterable[WordTuple],
    matrix: Matrix | None = None,
    *,
    block_sep: str = "\n",
    groups: dict[int, int] | None = None,
    clip: Box | None = None,
) -> PageText:
    """Join ``words`` (in reading order) into a :class:`PageText`.

    Words of one line are joined by a space, lines by a newline, blocks by ``block_sep``.
    ``matrix`` maps word boxes to displayed page coordinates, ``clip`` (the page) cuts
    boxes of words running off its edge; ``groups`` maps a block number to the layout
    group it belongs to (tesseract's block of a paragraph).
    """
    parts: list[str] = []
    pos = 0
    page = PageText()
    prev_block = prev_line = None
    block_start = 0
    block_boxes: list[Box] = []
    lines = 0

    def close_block() -> None:
        box = union_box(block_boxes)
        if prev_block is not None and box is not None:
            group = groups.get(prev_block, 0) if groups else 0
            page.blocks.append(
                TextBlock(prev_block, block_start, pos, round_box(box), lines, group)
            )

    for x0, y0, x1, y1, word, block, line, _ in words:
        if not word.isprintable():  # control characters, soft hyphens, stray separators
            word = "".join(ch for ch in word if ch.isprintable() and not ch.isspace())
        if not word:
            continue
        if block != prev_block:
            close_block()
            sep = block_sep if parts else ""
            block_boxes, lines = [], 1
            block_start = pos + len(sep)
        elif line != prev_line:
            sep = "\n"
            lines += 1
        else:
            sep = " "
        parts.append(sep)
        pos += len(sep)
        box = transform_box((x0, y0, x1, y1), matrix)
        if clip is not None:
            box = clip_box(box, clip)
        page.words.add(pos, pos + len(word), box)
        block_boxes.append(box)
        parts.append(word)
        pos += len(word)
        prev_block, prev_line = block, line
    close_block()
    page.text = "".join(parts)
    return page
