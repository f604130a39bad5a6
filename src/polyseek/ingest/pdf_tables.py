"""Tables as Markdown rows: from PyMuPDF's table finder, or from word positions.

PyMuPDF's ``find_tables`` reads ruled tables well but its cost grows faster than the
number of cells (1,000 cells: 0.7 s; 6,000 cells: 11 s including ``extract()``), so a
table with more words than :data:`MAX_FINDER_WORDS` is read from its word boxes instead:
words grouped into rows by their vertical centres, rows cut into cells at wide gaps
(the same reading serves tables found by tesseract on scans).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from polyseek.ingest.passages import Box, WordBoxes, round_box, union_box

MAX_FINDER_WORDS = 1500
"""Tables with more words than this are read from word positions (PyMuPDF is too slow)."""
MAX_TABLE_CHARS = 200_000
"""Markdown of a table is cut after this many characters (the rest stays in the page text)."""


@dataclass
class TableText:
    """A table's Markdown, with the box of each row's line (for passage boxes)."""

    text: str = ""
    rows: int = 0
    cols: int = 0
    lines: WordBoxes = field(default_factory=WordBoxes)


def _cell(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")


def _split_multiline(
    rows: Sequence[Sequence[str | None]], boxes: Sequence[Box | None]
) -> tuple[list[list[str | None]], list[Box | None]]:
    """A row whose filled cells all hold k lines is k rows (tables drawn without row rules)."""
    out: list[list[str | None]] = []
    out_boxes: list[Box | None] = []
    for row, box in zip(rows, boxes, strict=True):
        filled = [c for c in row if c]
        counts = {c.count("\n") + 1 for c in filled}
        k = counts.pop() if len(counts) == 1 else 1
        if k > 1 and len(filled) > 1:
            split = [c.split("\n") if c else [""] * k for c in row]
            out.extend([cells[i] for cells in split] for i in range(k))
            out_boxes.extend([box] * k)
        else:
            out.append(list(row))
            out_boxes.append(box)
    return out, out_boxes


def to_markdown(
    rows: Sequence[Sequence[str | None]], boxes: Sequence[Box | None] | None = None
) -> TableText:
    """Markdown of ``rows`` (the first is the header); ``boxes[i]`` is where row ``i`` lies."""
    if boxes is None or len(boxes) != len(rows):
        boxes = [None] * len(rows)
    rows, boxes = _split_multiline(rows, boxes)
    cols = max((len(r) for r in rows), default=0)
    table = TableText(rows=len(rows), cols=cols)
    if not rows or not cols:
        return table
    parts: list[str] = []
    pos = 0

    def line(text: str, box: Box | None) -> None:
        nonlocal pos
        if parts:
            parts.append("\n")
            pos += 1
        if box is not None:
            table.lines.add(pos, pos + len(text), box)
        parts.append(text)
        pos += len(text)

    for i, row in enumerate(rows):
        cells = [_cell(c) for c in row] + [""] * (cols - len(row))
        line("| " + " | ".join(cells) + " |", boxes[i])
        if i == 0:
            line("|" + " --- |" * cols, None)
        if pos > MAX_TABLE_CHARS:
            break
    table.text = "".join(parts)
    return table


Word = tuple[Box, str]


def _lines_of(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped into lines by vertical centre, each line sorted left to right."""
    if not words:
        return []
    heights = sorted(b[3] - b[1] for b, _ in words)
    height = max(heights[len(heights) // 2], 1.0)
    lines: list[list[Word]] = []
    centre = None
    for word in sorted(words, key=lambda w: ((w[0][1] + w[0][3]) / 2, w[0][0])):
        c = (word[0][1] + word[0][3]) / 2
        if centre is None or c - centre > height / 2:
            lines.append([])
            centre = c
        lines[-1].append(word)
    for line in lines:
        line.sort(key=lambda w: w[0][0])
    return lines


def cells_from_words(
    cell_rows: Sequence[Sequence[Box | None]], words: Sequence[Word]
) -> list[list[str | None]]:
    """The text of each cell of a table grid: the page's words whose centre lies in it.

    Reading the words already extracted keeps cell text identical to the page text (and
    is much faster than PyMuPDF's ``Table.extract()``); lines of a cell are kept apart.
    """
    grid: list[list[list[Word]]] = [[[] for _ in row] for row in cell_rows]
    tops = [min((c[1] for c in row if c is not None), default=float("inf")) for row in cell_rows]
    order = sorted(range(len(cell_rows)), key=lambda r: tops[r])
    sorted_tops = [tops[r] for r in order]
    for word in words:
        cx, cy = (word[0][0] + word[0][2]) / 2, (word[0][1] + word[0][3]) / 2
        k = bisect.bisect_right(sorted_tops, cy)  # rows starting above the word's centre
        for r in (order[j] for j in range(k - 1, max(k - 3, -1), -1)):
            cell = next(
                (
                    c
                    for c, box in enumerate(cell_rows[r])
                    if box is not None and box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
                ),
                None,
            )
            if cell is not None:
                grid[r][cell].append(word)
                break
    return [
        [
            "\n".join(" ".join(t for _, t in line) for line in _lines_of(cell)) if cell else None
            for cell in row
        ]
        for row in grid
    ]


def rows_from_words(words: Sequence[Word]) -> tuple[list[list[str | None]], list[Box | None]]:
    """Rows of cells from word boxes: rows by vertical centre, cells split at wide gaps."""
    rows: list[list[str | None]] = []
    boxes: list[Box | None] = []
    for line in _lines_of(words):
        height = max(sorted(b[3] - b[1] for b, _ in line)[len(line) // 2], 1.0)
        cells: list[list[str]] = [[line[0][1]]]
        for prev, word in zip(line, line[1:], strict=False):
            if word[0][0] - prev[0][2] > max(0.8 * height, 3.0):
                cells.append([])
            cells[-1].append(word[1])
        rows.append([" ".join(c) for c in cells])
        box = union_box(b for b, _ in line)
        boxes.append(round_box(box) if box is not None else None)
    return rows, boxes
