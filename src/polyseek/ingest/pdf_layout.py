"""Layout regions of a page: sections of text, lists, code, tables and figures.

The page's blocks of text (MuPDF blocks, or tesseract paragraphs on scans) come in
reading order as :class:`Unit` s, each classified (title, text, list, code, caption);
figures and tables found on the page are :class:`Area` s that own the units inside them.
:func:`build_layout` then makes the regions:

* **text regions**: runs of consecutive units in the same column, a heading starting a
  new one, grown up to about one passage (``passage_chars``), so a region is a piece of
  a section with its heading rather than a swarm of one-line blocks; tiny runs (a lone
  ``data()`` line) are merged into a neighbour. Kind: ``title`` (headings only),
  ``list``, ``code`` or ``text`` (by the characters of its blocks). Its text is exactly
  ``page.text[a:b]`` (``page_chars``), so its vectors are those of the page's passages
  over the same span.
* **tables**: Markdown rows (:mod:`~polyseek.ingest.pdf_tables`), caption first.
* **figures**: caption, then the text inside the figure (axis labels, callouts).

Running headers, footers and page numbers (:class:`Furniture`: in the top or bottom 9%
of the page and repeating across pages once digits are ignored, or a bare page number)
belong to no region and no passage.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from polyseek.ingest.passages import Box, WordBoxes, round_box, union_box
from polyseek.ingest.pdf_tables import TableText
from polyseek.ingest.pdf_text import PageText, TextBlock

REGION_KINDS = ("text", "title", "list", "code", "table", "figure")
"""Values of ``Locator.region`` for PDF pages."""

MIN_REGION_CHARS = 80
"""Runs of text shorter than this are merged into a neighbouring region."""

_CAPTION = re.compile(
    r"^\s*(fig(ure)?|table|tab|listing|chart|plate|diagram|exhibit|abb(ildung)?)\.?\s*"
    r"([0-9]+|[ivxlc]+\b|[a-z]\b)",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"^\s*([\u2022\u25e6\u25aa\u2023\u2219\u00b7\u2013\u2014*\-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s)"
)
_PAGE_NUMBER = re.compile(
    r"^\s*(page\s*)?([0-9]{1,5}|[ivxlcdm]{1,7})(\s*(of|/)\s*[0-9]{1,5})?\s*$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")


_WORD = re.compile(r"[^\W\d_]{3,}|\d{2,}")


def has_words(text: str) -> bool:
    """Whether ``text`` holds a word of three letters or a number (not just glyphs)."""
    return bool(_WORD.search(text))


def is_caption(text: str) -> bool:
    return bool(_CAPTION.match(text))


def is_list_item(text: str) -> bool:
    return bool(_LIST.match(text))


@dataclass
class Unit:
    """A block of the page text with its kind and what owns it."""

    block: TextBlock
    kind: str = "text"  # text | title | list | code | caption
    owner: int | None = None  # index of the Area (figure/table) it belongs to
    furniture: bool = False  # running header/footer, page number

    @property
    def bbox(self) -> Box:
        return self.block.bbox


@dataclass
class Area:
    """A figure or table found on the page (before its text is attached)."""

    kind: str  # "figure" | "table"
    bbox: Box
    table: TableText | None = None
    caption: int | None = None  # index of the caption unit
    heading: int | None = None  # index of a heading right above it (a table's title)


@dataclass
class Region:
    """A layout region, ready to become an item."""

    kind: str
    bbox: Box
    text: str
    page_span: tuple[int, int] | None = None  # text == page.text[a:b]
    boxes: WordBoxes | None = None  # boxes of spans of ``text`` (for passage boxes)
    caption: str | None = None
    heading: str | None = None
    rows: int | None = None
    cols: int | None = None
    index: int = 0  # 1-based among the regions of its kind on the page
    order: tuple[int, int] = (0, 0)


@dataclass
class PageLayout:
    regions: list[Region] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Spans of the page text its passages are cut from (no passage crosses one)."""


# --- running headers and footers ---------------------------------------------------------


class Furniture:
    """Remembers the text in page margins, to recognise what repeats from page to page."""

    MARGIN = 0.09
    MAX_KEYS = 512

    def __init__(self) -> None:
        self._pages: OrderedDict[str, set[int]] = OrderedDict()

    @staticmethod
    def key(text: str) -> str:
        return _DIGITS.sub("#", " ".join(text.lower().split()))[:120]

    def in_margin(self, bbox: Box, height: float) -> bool:
        return bbox[3] <= self.MARGIN * height or bbox[1] >= (1 - self.MARGIN) * height

    def observe(self, page_no: int, texts: Sequence[str]) -> None:
        """Note the margin texts of page ``page_no`` (called once per page, any order)."""
        for text in texts:
            key = self.key(text)
            if not key:
                continue
            pages = self._pages.pop(key, set())
            if len(pages) < 3:
                pages.add(page_no)
            self._pages[key] = pages
            while len(self._pages) > self.MAX_KEYS:
                self._pages.popitem(last=False)

    def is_furniture(self, page_no: int, text: str) -> bool:
        """Whether a margin text of ``page_no`` is a page number or repeats on another page."""
        if _PAGE_NUMBER.match(text):
            return True
        return bool(self._pages.get(self.key(text), set()) - {page_no})


def mark_furniture(
    units: Sequence[Unit], page: PageText, height: float, page_no: int, furniture: Furniture
) -> None:
    margin = [u for u in units if furniture.in_margin(u.bbox, height)]
    texts = [page.text[u.block.start : u.block.end] for u in margin]
    furniture.observe(page_no, texts)
    for unit, text in zip(margin, texts, strict=True):
        unit.furniture = furniture.is_furniture(page_no, text)


# --- geometry helpers ---------------------------------------------------------------------


def area_of(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def overlap(a: Box, b: Box) -> float:
    """Area of the intersection of ``a`` and ``b``."""
    return area_of((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def centre_inside(inner: Box, outer: Box, pad: float = 2.0) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] - pad <= cx <= outer[2] + pad and outer[1] - pad <= cy <= outer[3] + pad


def x_overlap(a: Box, b: Box) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


# --- captions, grouping, ordering ----------------------------------------------------------


def attach_captions(units: Sequence[Unit], areas: Sequence[Area], page: PageText) -> None:
    """Give each figure/table the caption block just below (or above) it, if any."""
    for index, area in enumerate(areas):
        best: tuple[float, int] | None = None
        for i, unit in enumerate(units):
            if unit.furniture or (unit.owner is not None and unit.owner != index):
                continue
            if unit.kind != "caption" and not is_caption(
                page.text[unit.block.start : unit.block.end]
            ):
                continue
            b = unit.bbox
            narrow = min(b[2] - b[0], area.bbox[2] - area.bbox[0])
            if narrow <= 0 or x_overlap(b, area.bbox) < 0.3 * narrow:
                continue
            gap = max(b[1] - area.bbox[3], area.bbox[1] - b[3])
            if unit.owner == index:
                gap = 0.0  # a caption drawn inside the figure's box
            elif gap > 40 or gap < -4:
                continue
            if best is None or gap < best[0]:
                best = (gap, i)
        if best is not None:
            area.caption = best[1]
            units[best[1]].owner = index
            units[best[1]].kind = "caption"


def attach_headings(units: Sequence[Unit], areas: Sequence[Area]) -> None:
    """A heading followed directly by a table or figure titles it (rather than standing
    alone as a one-line region)."""
    for i in range(len(units) - 1):
        unit, nxt = units[i], units[i + 1]
        if unit.kind != "title" or unit.owner is not None or unit.furniture or nxt.owner is None:
            continue
        area = areas[nxt.owner]
        top = (
            area.bbox[1] if area.caption is None else min(area.bbox[1], units[area.caption].bbox[1])
        )
        if (
            area.heading is None
            and -4 <= top - unit.bbox[3] <= 40
            and x_overlap(unit.bbox, area.bbox) > 0
        ):
            area.heading = i
            unit.owner = nxt.owner


def _group_runs(units: Sequence[Unit], max_chars: int) -> list[list[int]]:
    """Consecutive free units grown into runs: same column, heading starts a new run."""
    runs: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for i, unit in enumerate(units):
        if unit.owner is not None or unit.furniture:
            if current:
                runs.append(current)
            current, chars = [], 0
            continue
        if current:
            last = units[current[-1]]
            column = union_box(units[j].bbox for j in current)
            assert column is not None
            gap = unit.bbox[1] - last.bbox[3]
            line = max((last.bbox[3] - last.bbox[1]) / max(last.block.lines, 1), 6.0)
            joins = (
                chars + unit.block.chars < max_chars
                and not (unit.kind == "title" and any(units[j].kind != "title" for j in current))
                and -line < gap < 3 * line
                and x_overlap(unit.bbox, column) > 0
            )
            if not joins:
                runs.append(current)
                current, chars = [], 0
        current.append(i)
        chars += unit.block.chars + 1
    if current:
        runs.append(current)
    return _merge_small(runs, units)


def _merge_small(runs: list[list[int]], units: Sequence[Unit]) -> list[list[int]]:
    """Headings-only and tiny runs join the next (or previous) run when adjacent."""

    def size(run: list[int]) -> int:
        return units[run[-1]].block.end - units[run[0]].block.start

    def headings_only(run: list[int]) -> bool:
        return all(units[j].kind == "title" for j in run)

    out: list[list[int]] = []
    for i, run in enumerate(runs):
        nxt = runs[i + 1] if i + 1 < len(runs) else None
        joins_next = nxt is not None and nxt[0] == run[-1] + 1
        joins_previous = bool(out) and out[-1][-1] == run[0] - 1
        if headings_only(run) and joins_next:
            runs[i + 1] = run + runs[i + 1]
        elif size(run) < MIN_REGION_CHARS and joins_previous and _near(out[-1], run, units):
            out[-1] = out[-1] + run
        elif size(run) < MIN_REGION_CHARS and joins_next and _near(run, runs[i + 1], units):
            runs[i + 1] = run + runs[i + 1]
        else:
            out.append(run)
    return out


def _near(upper: list[int], lower: list[int], units: Sequence[Unit]) -> bool:
    """Whether run ``lower`` starts within a few lines below the end of run ``upper``."""
    a, b = units[upper[-1]], units[lower[0]]
    line = max((a.bbox[3] - a.bbox[1]) / max(a.block.lines, 1), 6.0)
    return -line < b.bbox[1] - a.bbox[3] < 4 * line and x_overlap(a.bbox, b.bbox) > -line


def _run_kind(run: Sequence[int], units: Sequence[Unit]) -> str:
    chars: dict[str, int] = {}
    for j in run:
        kind = units[j].kind
        if kind != "title":
            kind = kind if kind in ("list", "code") else "text"
            chars[kind] = chars.get(kind, 0) + units[j].block.chars
    if not chars:
        return "title"
    return max(chars, key=lambda k: chars[k])


def _owned_runs(units: Sequence[Unit], owner: int) -> list[tuple[int, int]]:
    """Spans of the page text over maximal runs of consecutive units owned by ``owner``."""
    spans: list[tuple[int, int]] = []
    start = end = None
    for unit in units:
        if unit.owner == owner and not unit.furniture:
            if start is None:
                start = unit.block.start
            end = unit.block.end
        elif start is not None and end is not None:
            spans.append((start, end))
            start = end = None
    if start is not None and end is not None:
        spans.append((start, end))
    return spans


def _area_text(
    area: Area, index: int, units: Sequence[Unit], page: PageText
) -> tuple[str, WordBoxes, str | None, str | None]:
    """Heading, caption, then the table's rows or the figure's inner text; line boxes."""
    parts: list[str] = []
    boxes = WordBoxes()
    pos = 0

    def add(text: str, box: Box | None) -> None:
        nonlocal pos
        if not text:
            return
        if parts:
            parts.append("\n")
            pos += 1
        if box is not None:
            boxes.add(pos, pos + len(text), box)
        parts.append(text)
        pos += len(text)

    heading = None
    if area.heading is not None:
        unit = units[area.heading]
        heading = " ".join(page.text[unit.block.start : unit.block.end].split())
        add(heading, unit.bbox)
    caption = None
    if area.caption is not None:
        unit = units[area.caption]
        caption = " ".join(page.text[unit.block.start : unit.block.end].split())
        add(caption, unit.bbox)
    if area.table is not None:
        offset = pos + (1 if parts else 0)
        add(area.table.text, None)
        lines = area.table.lines
        for s, e, b in zip(lines.starts, lines.ends, lines.boxes, strict=True):
            boxes.add(offset + s, offset + e, b)
    else:
        for i, unit in enumerate(units):
            if unit.owner == index and i not in (area.caption, area.heading) and not unit.furniture:
                inner = page.text[unit.block.start : unit.block.end]
                if has_words(inner):  # not music glyphs or stray symbols
                    add(inner, unit.bbox)
    return "".join(parts), boxes, caption, heading


def build_layout(
    page: PageText, units: Sequence[Unit], areas: Sequence[Area], *, max_chars: int
) -> PageLayout:
    """Regions (in reading order, numbered per kind) and the spans for page passages."""
    layout = PageLayout()
    attach_headings(units, areas)
    first_unit: dict[int, int] = {}
    for i, unit in enumerate(units):
        if unit.owner is not None:
            first_unit.setdefault(unit.owner, i)
    for run in _group_runs(units, max_chars):
        a, b = units[run[0]].block.start, units[run[-1]].block.end
        box = union_box(units[j].bbox for j in run)
        assert box is not None
        headings = [j for j in run if units[j].kind == "title"]
        heading = None
        if headings and headings[0] == run[0]:
            heading = " ".join(
                page.text[units[run[0]].block.start : units[headings[-1]].block.end].split()
            )
        layout.regions.append(
            Region(
                kind=_run_kind(run, units),
                bbox=round_box(box),
                text=page.text[a:b],
                page_span=(a, b),
                heading=heading,
                order=(run[0], 1),
            )
        )
        layout.spans.append((a, b))
    for index, area in enumerate(areas):
        text, boxes, caption, heading = _area_text(area, index, units, page)
        extra = [units[i].bbox for i in (area.caption, area.heading) if i is not None]
        bbox = union_box([area.bbox, *extra]) or area.bbox
        layout.regions.append(
            Region(
                kind=area.kind,
                bbox=round_box(bbox),
                text=text,
                boxes=boxes,
                caption=caption,
                heading=heading,
                rows=area.table.rows if area.table is not None else None,
                cols=area.table.cols if area.table is not None else None,
                order=(first_unit.get(index, _position_among(area.bbox, units)), 0),
            )
        )
        layout.spans.extend(
            s for s in _owned_runs(units, index) if has_words(page.text[s[0] : s[1]])
        )
    layout.regions.sort(key=lambda r: r.order)
    counts: dict[str, int] = {}
    for region in layout.regions:
        counts[region.kind] = counts.get(region.kind, 0) + 1
        region.index = counts[region.kind]
    layout.spans.sort()
    return layout


def _position_among(bbox: Box, units: Sequence[Unit]) -> int:
    """Where a figure without text falls in reading order: before the first unit below it
    in its column."""
    for i, unit in enumerate(units):
        if unit.bbox[1] >= bbox[1] and x_overlap(unit.bbox, bbox) > 0:
            return i
    return len(units)
