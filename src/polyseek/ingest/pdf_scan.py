"""Scanned pages: the OCR result as page text, and tesseract's own layout as regions.

Tesseract's page segmentation (``PSM.AUTO``) finds blocks and tells their type: flowing
or heading text, tables, captions, images, rules. Its paragraphs become the units of
:mod:`~polyseek.ingest.pdf_layout`, its blocks decide their kind (heading -> ``title``,
table -> a table read from word positions, image -> a figure). Boxes are scaled from
pixels of the OCR render to PDF points of the displayed page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyseek.ingest.passages import Box, round_box
from polyseek.ingest.pdf_layout import Area, Unit, area_of, centre_inside, is_caption, is_list_item
from polyseek.ingest.pdf_tables import rows_from_words, to_markdown
from polyseek.ingest.pdf_text import PageText, WordTuple, build_page_text

_IMAGE_BLOCKS = frozenset({"FLOWING_IMAGE", "HEADING_IMAGE", "PULLOUT_IMAGE"})
_SKIP_BLOCKS = frozenset({"HORZ_LINE", "VERT_LINE", "NOISE"})


def _scale_box(box: Sequence[float], sx: float, sy: float) -> Box:
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def scan_page_text(result: dict[str, Any], width_pt: float, height_pt: float) -> PageText:
    """The page text of an OCR result (paragraphs separated by a blank line)."""
    w, h = result["size"]
    sx, sy = width_pt / max(w, 1), height_pt / max(h, 1)
    words: list[WordTuple] = []
    groups: dict[int, int] = {}
    for x0, y0, x1, y1, word, para, line, block in result["words"]:
        words.append((x0 * sx, y0 * sy, x1 * sx, y1 * sy, word, para, line, 0))
        groups[para] = block
    return build_page_text(words, block_sep="\n\n", groups=groups)


def scan_layout(
    result: dict[str, Any], page: PageText, width_pt: float, height_pt: float
) -> tuple[list[Unit], list[Area]]:
    """Units (one per paragraph) and areas (tables, figures) of an OCR'd page."""
    w, h = result["size"]
    sx, sy = width_pt / max(w, 1), height_pt / max(h, 1)
    blocks: list[tuple[str, Box]] = [(t, _scale_box(b, sx, sy)) for t, b in result["blocks"]]
    page_area = width_pt * height_pt
    units: list[Unit] = []
    areas: list[Area] = []
    table_of_block: dict[int, int] = {}
    for i, (kind, box) in enumerate(blocks):
        if kind == "TABLE":
            table_of_block[i] = len(areas)
            areas.append(Area("table", round_box(box)))
        elif kind in _IMAGE_BLOCKS and area_of(box) >= 0.004 * page_area:
            if box[2] - box[0] >= 36 and box[3] - box[1] >= 24 and area_of(box) < 0.9 * page_area:
                areas.append(Area("figure", round_box(box)))
    for block in page.blocks:
        text = page.text[block.start : block.end]
        kind = blocks[block.group][0] if 0 <= block.group < len(blocks) else "UNKNOWN"
        unit = Unit(block)
        if kind in _SKIP_BLOCKS:
            unit.furniture = True
        elif block.group in table_of_block:
            unit.owner = table_of_block[block.group]
        elif kind == "CAPTION_TEXT" or is_caption(text):
            unit.kind = "caption"
        elif kind == "HEADING_TEXT" and block.lines <= 3:
            unit.kind = "title"
        elif is_list_item(text):
            unit.kind = "list"
        units.append(unit)
    for index, area in enumerate(areas):
        if area.kind == "figure":
            for unit in units:
                if unit.owner is None and centre_inside(unit.bbox, area.bbox):
                    unit.owner = index
            continue
        words = [
            (b, page.text[s:e])
            for u in units
            if u.owner == index
            for s, e, b in zip(page.words.starts, page.words.ends, page.words.boxes, strict=True)
            if u.block.start <= s < u.block.end
        ]
        rows, boxes = rows_from_words(words)
        area.table = to_markdown(rows, boxes)
    # A "table" tesseract found without two rows of two cells is text after all.
    for index, area in enumerate(areas):
        if area.kind == "table" and (
            area.table is None or area.table.rows < 2 or area.table.cols < 2
        ):
            area.kind, area.table = "text", None
            for unit in units:
                if unit.owner == index:
                    unit.owner = None
    kept = [a for a in areas if a.kind != "text"]
    renumber = {id(a): i for i, a in enumerate(kept)}
    for unit in units:
        if unit.owner is not None:
            unit.owner = renumber[id(areas[unit.owner])]
    return units, kept
