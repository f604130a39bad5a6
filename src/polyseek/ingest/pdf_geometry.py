"""Layout of born-digital pages from PyMuPDF geometry: fonts, images, vector drawings.

Why geometry and not PyMuPDF 2.0's layout model (``page.get_layout()``, ONNX models in
the wheel)? Measured on 45 pages of three real manuals (Octave, R-intro, LilyPond) on
the shared 2-core machine, the model takes 250-390 ms a page (median per manual; up to
1.1 s), while the whole region analysis here adds 3-30 ms a page to the loader
(``benchmarks/pdf_regions.py``: text dict 2-4 ms, images and drawings 1-10 ms, the rest
``find_tables`` on clusters of ruling lines). ``Engine.index()`` of page items costs
200-270 ms a page, and MiniLM over a page's passages 450-510 ms, so the model alone
would break the "regions cost at most 1.5x" budget. Drawn over the pages, the boxes
agree on paragraphs and headings (MuPDF's blocks *are* the paragraphs of these manuals);
the model is better on tables without ruling lines and labels page headers, geometry is
better on figures made of images (the model missed the sample manual's exploded view
and cut a column off its ruled table). ``find_tables`` itself runs the layout model
unless told not to (``use_layout=False``), and costs 60-380 ms on a page without any
table, so it only runs inside a cluster of ruling lines.

* text blocks: font size, bold and monospace shares from ``get_text("dict")`` decide
  ``title`` (larger than the page's body text, or bold and short), ``code``, ``list``
  (bullets, numbering) and ``caption`` ("Figure 3", "Table 2:");
* figures: embedded images (not tiny, not a page-sized background) and clusters of
  vector drawings that are more than a frame or a rule; overlapping ones merge;
* tables: a cluster of straight lines with text inside, read by ``find_tables`` (or
  from word positions when it holds more than :data:`~.pdf_tables.MAX_FINDER_WORDS`).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Sequence
from typing import Any

import pymupdf

from polyseek.ingest.passages import Box, round_box, union_box
from polyseek.ingest.pdf_layout import (
    Area,
    Unit,
    area_of,
    centre_inside,
    has_words,
    is_caption,
    is_list_item,
    overlap,
)
from polyseek.ingest.pdf_tables import (
    MAX_FINDER_WORDS,
    cells_from_words,
    rows_from_words,
    to_markdown,
)
from polyseek.ingest.pdf_text import Matrix, PageText, transform_box

logger = logging.getLogger(__name__)

_MONO_FONT = re.compile(r"mono|courier|typewriter|consol|menlo|inconsolata|^cmtt|lmtt|code", re.I)
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|^cmbx|lmbx", re.I)
_FLAG_MONO, _FLAG_BOLD = 8, 16


def _finder_takes_use_layout() -> bool:
    """Whether PyMuPDF's table finder has ``use_layout`` (2.0; ``Page.find_tables`` only
    passes ``**kwargs`` on to ``pymupdf.table.find_tables``)."""
    try:
        from pymupdf import table
    except ImportError:
        return False
    return "use_layout" in inspect.signature(table.find_tables).parameters


_FINDER_LAYOUT_ARG = _finder_takes_use_layout()
MAX_DRAWINGS = 20_000
"""Pages with more vector paths than this get no vector figures or ruled tables."""


def _font_stats(block: dict[str, Any]) -> tuple[float, float, float]:
    """(size, bold share, monospace share) of a ``dict`` text block, weighted by characters."""
    sizes: list[tuple[float, int]] = []
    bold = mono = total = 0
    for line in block.get("lines", ()):
        for span in line.get("spans", ()):
            n = len(span.get("text", "").strip())
            if not n:
                continue
            font, flags = span.get("font", ""), span.get("flags", 0)
            sizes.append((float(span.get("size", 0.0)), n))
            total += n
            bold += n * bool(flags & _FLAG_BOLD or _BOLD_FONT.search(font))
            mono += n * bool(flags & _FLAG_MONO or _MONO_FONT.search(font))
    if not total:
        return 0.0, 0.0, 0.0
    sizes.sort()
    half, acc, size = total / 2, 0, sizes[-1][0]
    for s, n in sizes:
        acc += n
        if acc >= half:
            size = s
            break
    return size, bold / total, mono / total


def _body_size(stats: Sequence[tuple[float, float, float, int]]) -> float:
    """The font size that most characters of the page are set in."""
    weights: dict[float, int] = {}
    for size, _, _, chars in stats:
        weights[round(size, 1)] = weights.get(round(size, 1), 0) + chars
    return max(weights, key=lambda s: weights[s]) if weights else 0.0


def classify_blocks(page: PageText, dict_blocks: Sequence[dict[str, Any]]) -> list[Unit]:
    """One :class:`Unit` per text block, with its kind from fonts and first words."""
    stats = []
    for block in page.blocks:
        raw = dict_blocks[block.number] if block.number < len(dict_blocks) else {}
        stats.append((*_font_stats(raw), block.chars))
    body = _body_size(stats)
    units = []
    for block, (size, bold, mono, _) in zip(page.blocks, stats, strict=True):
        text = page.text[block.start : block.end]
        short = (
            block.lines <= 3 and block.chars <= 160 and not text.rstrip().endswith((".", ",", ";"))
        )
        if is_caption(text):
            kind = "caption"
        elif short and body and (size >= 1.15 * body or (bold >= 0.7 and size >= 0.95 * body)):
            kind = "title"
        elif mono >= 0.7:
            kind = "code"
        elif is_list_item(text):
            kind = "list"
        else:
            kind = "text"
        units.append(Unit(block, kind))
    return units


def _drawing_shape(d: dict[str, Any]) -> tuple[bool, int]:
    """(whether the path has curves or slanted lines, number of straight pieces)."""
    straight = 0
    for item in d.get("items", ()):
        op = item[0]
        if op == "l":
            p, q = item[1], item[2]
            if abs(p.x - q.x) > 1 and abs(p.y - q.y) > 1:
                return True, straight
            straight += 1
        elif op == "re":
            straight += 4
        elif op == "qu":
            quad = item[1]
            if not quad.is_rectangular:
                return True, straight
            straight += 4
        else:  # "c": a Bézier curve
            return True, straight
    return False, straight


def find_areas(
    page: pymupdf.Page, text: PageText, units: list[Unit], matrix: Matrix | None
) -> list[Area]:
    """Figures and tables of ``page``; marks the units they own. Call under the MuPDF lock."""
    rect = page.rect
    page_box: Box = (0.0, 0.0, float(rect.width), float(rect.height))
    page_area = area_of(page_box)
    figures: list[Box] = []
    for info in page.get_image_info():
        box = _clip(transform_box(info["bbox"], matrix), page_box)
        w, h = box[2] - box[0], box[3] - box[1]
        if w >= 24 and h >= 24 and 0.003 * page_area <= area_of(box) <= 0.8 * page_area:
            figures.append(box)
    tables: list[Area] = []
    drawings = page.get_drawings()
    if len(drawings) > MAX_DRAWINGS:
        logger.debug(
            "page %d: %d vector paths, vector figures skipped", page.number + 1, len(drawings)
        )
    elif drawings:
        # Drawings are in unrotated page space, and so must be the clip (by default the
        # rotated page.rect, which would cut drawings off a rotated page).
        unrotated = page.rect * page.derotation_matrix if matrix is not None else page.rect
        for cluster in page.cluster_drawings(drawings=drawings, clip=unrotated):
            box = _clip(transform_box(cluster, matrix), page_box)
            w, h = box[2] - box[0], box[3] - box[1]
            if w < 12 or h < 12:
                continue  # a rule, an underline
            found = _table_or_figure(page, cluster, box, drawings, text, units, matrix)
            if isinstance(found, Area):
                tables.append(found)
            elif found and w >= 36 and h >= 24 and area_of(box) >= 0.004 * page_area:
                figures.append(box)
    areas = tables + [Area("figure", b) for b in _merge_boxes(figures, tables)]
    _assign_units(areas, units)
    return areas


def _table_or_figure(
    page: pymupdf.Page,
    cluster: pymupdf.Rect,
    box: Box,
    drawings: Sequence[dict[str, Any]],
    text: PageText,
    units: Sequence[Unit],
    matrix: Matrix | None,
) -> Area | bool:
    """A table Area, True for a figure, False for a frame or box around text."""
    curved, straight, paths = False, 0, 0
    for d in drawings:
        r = d["rect"]
        if cluster.contains(pymupdf.Point((r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2)):
            c, s = _drawing_shape(d)
            curved, straight, paths = curved or c, straight + s, paths + 1
    inside = [u for u in units if centre_inside(u.bbox, box)]
    if not inside:
        return True
    if not curved:
        table = _read_table(page, box, text)
        if table is not None:
            return table
    share = sum(area_of(u.bbox) for u in inside) / max(area_of(box), 1.0)
    if (paths <= 12 and share >= 0.25) or (not curved and share >= 0.4):
        return False
    return True


def _read_table(page: pymupdf.Page, box: Box, text: PageText) -> Area | None:
    """A ruled table inside ``box`` (displayed coordinates), if PyMuPDF finds one."""
    words = [
        (b, text.text[s:e])
        for s, e, b in zip(text.words.starts, text.words.ends, text.words.boxes, strict=True)
        if centre_inside(b, box, pad=0.0)
    ]
    if len(words) > MAX_FINDER_WORDS:
        rows, boxes = rows_from_words(words)
    else:
        # find_tables works on the page as displayed: clip and results are in that space.
        kwargs: dict[str, Any] = {"clip": pymupdf.Rect(box)}
        if _FINDER_LAYOUT_ARG:
            kwargs["use_layout"] = False  # else it runs the layout model (~300 ms a page)
        finder = page.find_tables(**kwargs)
        found = [
            t for t in (finder.tables if finder else []) if t.row_count >= 2 and t.col_count >= 2
        ]
        if not found:
            return None
        table = max(found, key=lambda t: t.row_count * t.col_count)
        cell_rows = [
            [transform_box(c, None) if c is not None else None for c in row.cells]
            for row in table.rows
        ]
        rows = cells_from_words(cell_rows, words)
        boxes = [round_box(transform_box(row.bbox, None)) for row in table.rows]
        box = _clip(transform_box(table.bbox, None), box)
    if len(rows) < 2 or max(len(r) for r in rows) < 2 or not _has_content(rows):
        return None
    return Area("table", round_box(box), table=to_markdown(rows, boxes))


def _has_content(rows: Sequence[Sequence[str | None]]) -> bool:
    """Whether a grid holds a table's worth of words (a music staff is a grid of empty
    cells with a few glyphs in it)."""
    cells = [c for r in rows for c in r]
    filled = [c for c in cells if c and has_words(c)]
    rows_with_words = sum(1 for r in rows if any(c and has_words(c) for c in r))
    return len(filled) >= 0.4 * len(cells) and rows_with_words >= 2


def _clip(box: Box, limit: Box) -> Box:
    return (
        max(box[0], limit[0]),
        max(box[1], limit[1]),
        min(box[2], limit[2]),
        min(box[3], limit[3]),
    )


def _merge_boxes(boxes: list[Box], tables: Sequence[Area]) -> list[Box]:
    """Overlapping figure boxes merged; figures inside a table dropped."""
    boxes = [b for b in boxes if not any(overlap(b, t.bbox) > 0.5 * area_of(b) for t in tables)]
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                grown = (a[0] - 6, a[1] - 6, a[2] + 6, a[3] + 6)
                if overlap(grown, b) > 0:
                    boxes[i] = union_box([a, b]) or a
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _assign_units(areas: list[Area], units: Sequence[Unit]) -> None:
    """Units inside a figure or table belong to it, and so do short labels just outside a
    figure (axis ticks, callouts), which widen its box. A 'figure' holding most of the
    page's text is a background or a frame, not a figure, and is dropped."""
    total = max(sum(u.block.chars for u in units), 1)
    keep: list[Area] = []
    for area in areas:
        owned = [u for u in units if u.owner is None and _inside(u.bbox, area.bbox)]
        if area.kind == "figure":
            grown = True
            while grown:
                grown = False
                near = (area.bbox[0] - 10, area.bbox[1] - 10, area.bbox[2] + 10, area.bbox[3] + 10)
                for u in units:
                    if (
                        u.owner is None
                        and u not in owned
                        and u.kind != "caption"
                        and u.block.chars <= 60
                        and area_of(u.bbox) <= 0.25 * area_of(area.bbox)
                        and _inside(u.bbox, near)
                    ):
                        owned.append(u)
                        area.bbox = union_box([area.bbox, u.bbox]) or area.bbox
                        grown = True
        chars = sum(u.block.chars for u in owned)
        if area.kind == "figure" and chars > 400 and chars > 0.5 * total:
            continue
        for u in owned:
            u.owner = len(keep)
        keep.append(area)
    areas[:] = keep


def _inside(inner: Box, outer: Box) -> bool:
    return centre_inside(inner, outer) and overlap(inner, outer) >= 0.6 * area_of(inner)
