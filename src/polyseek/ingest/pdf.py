"""PDF files: one item per page, with its text layer (or OCR of the rendered page)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image

from polyseek.errors import IngestError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest.base import LOADERS, BaseLoader
from polyseek.ingest.detect import PDF_EXTENSIONS
from polyseek.ingest.ocr import get_ocr_engine
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)

MUPDF_LOCK = threading.RLock()
"""PyMuPDF is not thread-safe (not even across documents): hold this around every call."""

# A page is rendered for OCR at no more than this many pixels on its longest side:
# a poster-sized page at 200 dpi would otherwise need gigabytes.
_OCR_MAX_SIDE = 4000
# Plain text without ligature glyphs ("ﬁ" -> "fi"), so words match what users type.
_TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES
_BLANK_LINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def _clean_page_text(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n").replace("\f", "\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def render_page(page: pymupdf.Page, dpi: int, max_side: int, *, gray: bool = False) -> Image.Image:
    """Render ``page`` at ``dpi`` (less if its longest side would exceed ``max_side`` px)."""
    longest_pt = max(page.rect.width, page.rect.height, 1.0)
    zoom = min(dpi / 72.0, max_side / longest_pt)
    colorspace = pymupdf.csGRAY if gray else pymupdf.csRGB
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=colorspace, alpha=False)
    return Image.frombytes("L" if gray else "RGB", (pix.width, pix.height), pix.samples)


def _looks_truncated(path: Path) -> bool:
    """Whether the file lacks the ``%%EOF`` marker that ends every complete PDF."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 2048))
        return b"%%EOF" not in fh.read()


def _doc_metadata(doc: pymupdf.Document) -> dict[str, Any]:
    meta: dict[str, Any] = {"page_count": doc.page_count}
    info = doc.metadata or {}
    for key in ("title", "author", "subject"):
        value = (info.get(key) or "").strip()
        if value:
            meta[key] = value
    return meta


@LOADERS.register("pdf")
class PdfLoader(BaseLoader):
    """One ``Item(modality="page", locator=Locator(page=n))`` per page (1-based).

    ``text`` is the page's text layer; pages with (almost) none are rendered at
    ``IngestOptions.pdf_ocr_dpi`` and OCR'd (``metadata["ocr"] = True``). ``image`` is
    the page rendered at ``pdf_preview_dpi`` (RGB). Encrypted, corrupt, truncated and
    empty documents raise :class:`IngestError`; a single unreadable page is logged and
    skipped so the others are still indexed. Safe to use from several threads: MuPDF
    calls are serialised by :data:`MUPDF_LOCK`, OCR runs in parallel.
    """

    name = "pdf"
    extensions = PDF_EXTENSIONS

    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        name = str(path)
        with ingest_errors(path):
            doc, doc_meta = self._open(path)
        try:
            errors: list[str] = []
            produced = 0
            for index in range(doc_meta["page_count"]):
                with ingest_errors(path):
                    try:
                        item = self._page_item(doc, index, source, doc_meta)
                    except (RuntimeError, ValueError) as exc:  # MuPDF errors on one page
                        errors.append(f"page {index + 1}: {exc}")
                        logger.warning("%s: skipping unreadable page %d: %s", name, index + 1, exc)
                        continue
                produced += 1
                yield item
            if not produced:
                raise IngestError(name, f"no readable page ({'; '.join(errors[:3])})")
        finally:
            with MUPDF_LOCK:
                doc.close()

    def _open(self, path: Path) -> tuple[pymupdf.Document, dict[str, Any]]:
        """Open ``path`` and check it can be read; the document and its metadata."""
        name = str(path)
        with MUPDF_LOCK:
            pymupdf.TOOLS.mupdf_warnings(reset=True)
            try:
                doc = pymupdf.open(path, filetype="pdf")
            except pymupdf.EmptyFileError:
                raise IngestError(name, "empty file") from None
            except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
                if _looks_truncated(path):
                    reason = (
                        "truncated or corrupt PDF: cannot be opened, and it lacks the %EOF marker"
                    )
                else:
                    reason = f"corrupt PDF: cannot be opened ({exc})"
                raise IngestError(name, reason) from None
            try:
                return doc, self._check(doc, path)
            except BaseException:
                doc.close()
                raise

    @staticmethod
    def _check(doc: pymupdf.Document, path: Path) -> dict[str, Any]:
        name = str(path)
        if doc.needs_pass:
            raise IngestError(
                name,
                "encrypted PDF: a password is needed to open it",
                hint="decrypt it (e.g. qpdf --decrypt --password=... in.pdf out.pdf)",
            )
        meta = _doc_metadata(doc)
        if doc.is_repaired:
            warnings_text = pymupdf.TOOLS.mupdf_warnings(reset=True)
            if _looks_truncated(path):
                raise IngestError(
                    name,
                    "truncated PDF: the file ends before its %EOF marker "
                    "(cut off while downloading or copying?)",
                )
            logger.warning(
                "%s: damaged PDF repaired by MuPDF: %s",
                name,
                " | ".join(warnings_text.splitlines()[:3]),
            )
            meta["repaired"] = True
        if doc.page_count == 0:
            raise IngestError(name, "PDF has no pages")
        return meta

    def _page_item(
        self, doc: pymupdf.Document, index: int, source: str, doc_meta: dict[str, Any]
    ) -> Item:
        opts = self.options
        scan: Image.Image | None = None
        with MUPDF_LOCK:
            page = doc.load_page(index)
            text = _clean_page_text(page.get_text("text", flags=_TEXT_FLAGS))
            metadata: dict[str, Any] = {
                **doc_meta,
                "width": round(page.rect.width, 2),
                "height": round(page.rect.height, 2),
                "ocr": False,
            }
            visible = sum(1 for ch in text if not ch.isspace())
            if visible < opts.pdf_min_text_chars and opts.ocr:
                scan = render_page(page, opts.pdf_ocr_dpi, _OCR_MAX_SIDE, gray=True)
            preview = render_page(page, opts.pdf_preview_dpi, opts.image_max_side)
            del page
        if scan is not None:  # OCR outside the lock: other threads may use MuPDF meanwhile
            ocr_text = get_ocr_engine(opts.ocr_lang).ocr(scan)
            metadata["ocr"] = True
            if sum(1 for ch in ocr_text if not ch.isspace()) >= visible:
                text = ocr_text
        return Item(
            source=source,
            modality="page",
            locator=Locator(page=index + 1),
            text=text,
            image=preview,
            metadata=metadata,
        )
