"""PDF files: a page item per page, with passages, followed by its layout regions.

What a page yields (in page order, streamed: nothing of a page is kept once its items
are yielded, whatever the page count):

1. the **page item**: ``Item(modality="page", locator=Locator(page=n))``, ``text`` the
   page's text (its text layer, or OCR of the rendered page), ``image`` the page
   rendered at ``pdf_preview_dpi`` and ``passages`` (:mod:`~polyseek.ingest.passages`):
   windows of ``text`` within the encoder's reach, each with the box of its words;
2. its **region items** (:mod:`~polyseek.ingest.pdf_layout`), with ``pdf_regions``:
   ``Locator(page=n, bbox=..., region=kind, region_index=k)``; text regions (``text``,
   ``title``, ``list``, ``code``) carry ``metadata["page_chars"] = [a, b]`` with
   ``text == page.text[a:b]`` and the page's passages over that span are theirs too;
   tables carry Markdown rows and figures their caption and inner text, both with the
   crop in ``image``.

Boxes are PDF points of the page as displayed (see :mod:`~polyseek.ingest.pdf_text`).
Scanned pages are OCR'd in worker processes (:mod:`~polyseek.ingest.ocr_pool`), a few
pages ahead, still yielded in order. ``page_progress`` (:mod:`~polyseek.ingest.progress`)
hears of every page. Encrypted, corrupt, truncated, empty and absurdly long documents
raise :class:`IngestError`; a single unreadable page is logged and skipped.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image

from polyseek.errors import IngestError, PolyseekError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest.base import LOADERS, BaseLoader
from polyseek.ingest.detect import PDF_EXTENSIONS
from polyseek.ingest.ocr import get_ocr_engine
from polyseek.ingest.options import IngestOptions
from polyseek.ingest.pdf_page import MUPDF_LOCK, PageReader, PageWork, page_items, render_page
from polyseek.ingest.progress import PageProgressCallback, current_page_progress
from polyseek.types import Item

logger = logging.getLogger(__name__)

__all__ = ["MUPDF_LOCK", "PdfLoader", "render_page"]

LOG_EVERY_PAGES = 200
"""Pages between two progress lines in the (debug) log."""


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


class _Ocr:
    """Runs the OCR of scanned pages: in a pool of worker processes, or in this thread."""

    def __init__(self, options: IngestOptions) -> None:
        self.options = options
        self._threads: ThreadPoolExecutor | None = None

    def submit(self, image: Image.Image, dpi: int) -> Future[dict[str, Any]]:
        opts = self.options
        if opts.ocr_workers == 0:
            done: Future[dict[str, Any]] = Future()
            try:
                done.set_result(get_ocr_engine(opts.ocr_lang).read_page(image, dpi))
            except PolyseekError as exc:
                done.set_exception(exc)
            return done
        from polyseek.ingest.ocr_pool import get_ocr_pool

        pool = get_ocr_pool(opts.ocr_lang, opts.ocr_workers)
        if self._threads is None:
            self._threads = ThreadPoolExecutor(opts.ocr_workers, thread_name_prefix="polyseek-ocr")
        return self._threads.submit(pool.read, image, dpi)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None


@LOADERS.register("pdf")
class PdfLoader(BaseLoader):
    """Page items with passages, each followed by its region items (see the module doc).

    Safe to use from several threads: MuPDF calls are serialised by :data:`MUPDF_LOCK`,
    OCR runs in worker processes shared by all of them.
    """

    name = "pdf"
    extensions = PDF_EXTENSIONS

    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        progress = current_page_progress()
        with ingest_errors(path):
            doc, doc_meta = self._open(path)
        try:
            yield from self._pages(doc, doc_meta, path, source, progress)
        finally:
            with MUPDF_LOCK:
                doc.close()

    def _pages(
        self,
        doc: pymupdf.Document,
        doc_meta: dict[str, Any],
        path: Path,
        source: str,
        progress: PageProgressCallback | None,
    ) -> Iterator[Item]:
        name, opts = str(path), self.options
        total = doc_meta["page_count"]
        reader = PageReader(opts, doc_meta)
        if opts.pdf_regions:
            with MUPDF_LOCK:
                reader.learn_margins(doc)
        ocr = _Ocr(opts)
        window = max(2, 2 * opts.ocr_workers)
        pending: deque[tuple[PageWork, Future[dict[str, Any]] | None]] = deque()
        errors: list[str] = []
        produced = done = 0

        def finish() -> list[Item]:
            nonlocal done, produced
            work, future = pending.popleft()
            if future is not None:
                self._take_ocr(work, future, reader, name)
            done += 1
            produced += 1
            if progress is not None:
                progress(done, total)
            if done % LOG_EVERY_PAGES == 0:
                logger.debug("%s: %d of %d pages read", name, done, total)
            return page_items(work, source, opts)

        try:
            for index in range(total):
                with ingest_errors(path):
                    try:
                        work = reader.read(doc, index)
                    except (RuntimeError, ValueError) as exc:  # MuPDF errors on one page
                        errors.append(f"page {index + 1}: {exc}")
                        logger.warning("%s: skipping unreadable page %d: %s", name, index + 1, exc)
                        done += 1
                        if progress is not None:
                            progress(done, total)
                        continue
                future = None
                if work.scan is not None:
                    future = ocr.submit(work.scan, work.metadata["ocr_dpi"])
                pending.append((work, future))
                del work
                while pending and (len(pending) > window or _ready(pending[0][1])):
                    with ingest_errors(path):
                        items = finish()
                    yield from items
                    del items
            while pending:
                with ingest_errors(path):
                    items = finish()
                yield from items
                del items
        finally:
            ocr.close()
        if not produced:
            raise IngestError(name, f"no readable page ({'; '.join(errors[:3])})")

    @staticmethod
    def _take_ocr(
        work: PageWork, future: Future[dict[str, Any]], reader: PageReader, name: str
    ) -> None:
        try:
            result = future.result()
        except IngestError:
            raise
        except PolyseekError as exc:
            from polyseek.ingest.ocr_pool import OcrWorkerError

            if not isinstance(exc, OcrWorkerError):
                raise  # tesseract missing: a configuration problem, not this file's
            logger.warning("%s: OCR of page %d failed: %s", name, work.index + 1, exc)
            reader.finish_ocr(work, None, str(exc))
            return
        reader.finish_ocr(work, result, None)

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
                meta = self._check(doc, path)
                limit = self.options.pdf_max_pages
                if doc.page_count > limit:
                    raise IngestError(
                        name,
                        f"PDF has {doc.page_count:,} pages, more than the limit of {limit:,}",
                        hint="raise IngestOptions.pdf_max_pages to index it",
                    )
                return doc, meta
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


def _ready(future: Future[dict[str, Any]] | None) -> bool:
    return future is None or future.done()
