"""One PDF page in, a page item and its region items out.

:func:`read_page` does everything that needs MuPDF (under :data:`MUPDF_LOCK`): the text
layer with word boxes, the page render, and for born-digital pages the layout and the
crops of its tables and figures. A page without a text layer is rendered once, at the
OCR resolution: the preview is scaled down from that render, and the grey copy goes to
OCR; :func:`finish_page` then builds its text and regions from the OCR result.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import pymupdf
from PIL import Image

from polyseek.ingest.options import IngestOptions
from polyseek.ingest.passages import Box, WordBoxes, make_passages, passage_spans
from polyseek.ingest.pdf_geometry import classify_blocks, find_areas
from polyseek.ingest.pdf_layout import (
    Furniture,
    PageLayout,
    Region,
    attach_captions,
    build_layout,
    mark_furniture,
)
from polyseek.ingest.pdf_scan import scan_layout, scan_page_text
from polyseek.ingest.pdf_text import Matrix, PageText, build_page_text, transform_box
from polyseek.types import Item, Locator, Passage

logger = logging.getLogger(__name__)

MUPDF_LOCK = threading.RLock()
"""PyMuPDF is not thread-safe (not even across documents): hold this around every call."""

# A page is rendered for OCR at no more than this many pixels on its longest side:
# a poster-sized page at 200 dpi would otherwise need gigabytes.
OCR_MAX_SIDE = 4000
# Plain text without ligature glyphs ("ﬁ" -> "fi"), so words match what users type.
TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES
CROP_KINDS = frozenset({"figure", "table"})


def _zoom(rect: pymupdf.Rect, dpi: int, max_side: int) -> float:
    return min(dpi / 72.0, max_side / max(rect.width, rect.height, 1.0))


def render_page(page: pymupdf.Page, dpi: int, max_side: int, *, gray: bool = False) -> Image.Image:
    """Render ``page`` at ``dpi`` (less if its longest side would exceed ``max_side`` px)."""
    zoom = _zoom(page.rect, dpi, max_side)
    colorspace = pymupdf.csGRAY if gray else pymupdf.csRGB
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=colorspace, alpha=False)
    return _bounded(
        Image.frombytes("L" if gray else "RGB", (pix.width, pix.height), pix.samples), max_side
    )


def _bounded(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` shrunk to ``max_side`` if MuPDF's rounding to whole pixels overshot."""
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def render_crop(page: pymupdf.Page, bbox: Box, dpi: int, max_side: int) -> Image.Image | None:
    """The part ``bbox`` (displayed page coordinates) of ``page``, rendered."""
    w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    if w < 2 or h < 2:
        return None
    zoom = min(dpi / 72.0, max_side / max(w, h))
    pix = page.get_pixmap(
        matrix=pymupdf.Matrix(zoom, zoom),
        clip=pymupdf.Rect(bbox),
        colorspace=pymupdf.csRGB,
        alpha=False,
    )
    if pix.width < 1 or pix.height < 1:
        return None
    return _bounded(Image.frombytes("RGB", (pix.width, pix.height), pix.samples), max_side)


@dataclass
class PageWork:
    """What was read of one page; complete once its OCR (if any) is in."""

    index: int
    width: float
    height: float
    metadata: dict[str, Any]
    text: PageText
    preview: Image.Image | None = None
    scan: Image.Image | None = None  # grey render waiting for OCR
    layout: PageLayout | None = None
    crops: dict[int, Image.Image] = field(default_factory=dict)  # region number -> crop


class PageReader:
    """Reads the pages of one document; keeps only the margin texts between pages."""

    def __init__(self, options: IngestOptions, doc_meta: dict[str, Any]) -> None:
        self.options = options
        self.doc_meta = doc_meta
        self.furniture = Furniture()

    def learn_margins(self, doc: pymupdf.Document, pages: int = 6) -> None:
        """Note the margin texts of the first pages, so that page 1's running header is
        recognised too. Call under the MuPDF lock."""
        for index in range(min(pages, doc.page_count)):
            try:
                page = doc.load_page(index)
                matrix = _matrix(page)
                height = page.rect.height
                texts = [
                    b[4]
                    for b in page.get_text("blocks", flags=TEXT_FLAGS)
                    if self.furniture.in_margin(transform_box(b[:4], matrix), height)
                ]
            except (RuntimeError, ValueError):
                continue
            self.furniture.observe(index + 1, texts)

    def read(self, doc: pymupdf.Document, index: int) -> PageWork:
        """Text, render, and (born-digital) layout of page ``index``; under the MuPDF lock."""
        opts = self.options
        with MUPDF_LOCK:
            page = doc.load_page(index)
            rect = page.rect
            matrix = _matrix(page)
            textpage = page.get_textpage(flags=TEXT_FLAGS)
            page_box = (0.0, 0.0, float(rect.width), float(rect.height))
            text = build_page_text(page.get_text("words", textpage=textpage), matrix, clip=page_box)
            work = PageWork(
                index,
                float(rect.width),
                float(rect.height),
                {
                    **self.doc_meta,
                    "width": round(rect.width, 2),
                    "height": round(rect.height, 2),
                    "ocr": False,
                },
                text,
            )
            if page.rotation:
                work.metadata["rotation"] = page.rotation
            if text.visible_chars() < opts.pdf_min_text_chars and opts.ocr:
                scan = render_page(page, opts.pdf_ocr_dpi, OCR_MAX_SIDE)
            else:
                scan = None
                work.preview = render_page(page, opts.pdf_preview_dpi, opts.image_max_side)
                if opts.pdf_regions and text.text:
                    dict_blocks = page.get_text("dict", textpage=textpage)["blocks"]
                    units = classify_blocks(text, dict_blocks)
                    mark_furniture(units, text, work.height, index + 1, self.furniture)
                    areas = find_areas(page, text, units, matrix)
                    attach_captions(units, areas, text)
                    work.layout = build_layout(text, units, areas, max_chars=opts.passage_chars)
                    for number, region in enumerate(work.layout.regions):
                        if region.kind in CROP_KINDS:
                            crop = render_crop(
                                page, region.bbox, opts.pdf_crop_dpi, opts.image_max_side
                            )
                            if crop is not None:
                                work.crops[number] = crop
            del textpage, page
        if scan is not None:  # outside the lock: scaling and conversion need no MuPDF
            zoom = _zoom(rect, opts.pdf_preview_dpi, opts.image_max_side)
            size = (max(1, round(work.width * zoom)), max(1, round(work.height * zoom)))
            work.preview = scan.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
            work.scan = scan.convert("L")
            work.metadata["ocr_dpi"] = round(scan.width * 72 / max(work.width, 1.0))
        return work

    def finish_ocr(self, work: PageWork, result: dict[str, Any] | None, error: str | None) -> None:
        """Take the OCR result of a scanned page: its text, and its regions."""
        work.scan = None
        work.metadata["ocr"] = True
        if error is not None:
            work.metadata["ocr_error"] = error
            return
        assert result is not None
        scanned = scan_page_text(result, work.width, work.height)
        if scanned.visible_chars() < work.text.visible_chars():
            return  # the (small) text layer says more than OCR
        work.text = scanned
        if not self.options.pdf_regions or not scanned.text:
            return
        units, areas = scan_layout(result, scanned, work.width, work.height)
        mark_furniture(units, scanned, work.height, work.index + 1, self.furniture)
        attach_captions(units, areas, scanned)
        work.layout = build_layout(scanned, units, areas, max_chars=self.options.passage_chars)
        if work.preview is not None:
            scale = work.preview.width / max(work.width, 1.0)
            for number, region in enumerate(work.layout.regions):
                if region.kind in CROP_KINDS:
                    x0, y0, x1, y1 = (round(v * scale) for v in region.bbox)
                    if x1 - x0 >= 2 and y1 - y0 >= 2:
                        work.crops[number] = work.preview.crop((x0, y0, x1, y1))


def _matrix(page: pymupdf.Page) -> Matrix | None:
    if not page.rotation:
        return None
    m = page.rotation_matrix
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def page_items(work: PageWork, source: str, options: IngestOptions) -> list[Item]:
    """The page item, then one item per region, in reading order."""
    page_no = work.index + 1
    text = work.text
    layout = work.layout
    passages: list[Passage] = []
    if options.pdf_passages and text.text:
        spans = layout.spans if layout is not None else [(0, len(text.text))]
        passages = _passages(text.text, text.words, spans, options)
    metadata = dict(work.metadata)
    regions = layout.regions if layout is not None else []
    if len(regions) == 1 and regions[0].page_span is not None:
        regions = []  # one text region: the page item says it all
    if layout is not None:
        metadata["regions"] = len(regions)
    items = [
        Item(
            source=source,
            modality="page",
            locator=Locator(page=page_no),
            text=text.text,
            image=work.preview,
            metadata=metadata,
            passages=passages,
        )
    ]
    for number, region in enumerate(regions):
        items.append(
            Item(
                source=source,
                modality="page",
                locator=Locator(
                    page=page_no, bbox=region.bbox, region=region.kind, region_index=region.index
                ),
                text=region.text,
                image=work.crops.get(number),
                metadata=_region_metadata(work, region),
                passages=_region_passages(region, passages, options)
                if options.pdf_passages
                else [],
            )
        )
    return items


def _passages(
    text: str, words: WordBoxes | None, spans: list[tuple[int, int]], options: IngestOptions
) -> list[Passage]:
    return make_passages(
        text,
        words,
        spans,
        max_chars=options.passage_chars,
        max_tokens=options.passage_tokens,
        overlap=options.passage_overlap,
    )


def _region_passages(
    region: Region, page_passages: list[Passage], options: IngestOptions
) -> list[Passage]:
    """A region's passages (when it needs more than one): for a text region, exactly the
    page's passages over its span, shifted, so their vectors can be shared."""
    if region.page_span is not None:
        a, b = region.page_span
        inside = [
            Passage(p.char_start - a, p.char_end - a, p.bbox)
            for p in page_passages
            if a <= p.char_start and p.char_end <= b
        ]
        return inside if len(inside) > 1 else []
    spans = passage_spans(
        region.text, options.passage_chars, options.passage_tokens, options.passage_overlap
    )
    if len(spans) <= 1:
        return []
    boxes = region.boxes
    return [
        Passage(
            s, e, (boxes.box(s, e) if boxes is not None and len(boxes) else None) or region.bbox
        )
        for s, e in spans
    ]


def _region_metadata(work: PageWork, region: Region) -> dict[str, Any]:
    meta: dict[str, Any] = {
        **work.metadata,
        "region": region.kind,
    }
    meta.pop("regions", None)
    if region.page_span is not None:
        meta["page_chars"] = list(region.page_span)
    for key in ("caption", "heading", "rows", "cols"):
        value = getattr(region, key)
        if value is not None:
            meta[key] = value
    return meta
