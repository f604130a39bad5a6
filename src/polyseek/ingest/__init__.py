"""Loaders: source files in, items with provenance out.

``load_file(path, source)`` is the one entry point the indexer needs: it picks the
loader for the file's kind (:func:`detect_kind`) and turns every failure into an
:class:`~polyseek.errors.IngestError` carrying the path and a reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from polyseek.errors import IngestError
from polyseek.ingest._errors import describe_os_error, ingest_errors
from polyseek.ingest.audio import AudioLoader
from polyseek.ingest.base import LOADERS, Loader, LoaderFactory
from polyseek.ingest.detect import (
    EXTENSION_KINDS,
    SUPPORTED_EXTENSIONS,
    Kind,
    detect_kind,
)
from polyseek.ingest.image import ImageLoader
from polyseek.ingest.ocr import OcrEngine, find_tessdata, ocr_available, ocr_image
from polyseek.ingest.options import DEFAULT_OPTIONS, IngestOptions
from polyseek.ingest.progress import PageProgressCallback, page_progress
from polyseek.ingest.text import TextLoader, chunk_text, html_to_text
from polyseek.ingest.video import VideoLoader
from polyseek.types import Item

logger = logging.getLogger(__name__)

# PyMuPDF takes 1-1.5 s to import: the PDF loader is imported when a PDF is first read,
# so commands that read no file (status, search, --help) never pay for it.
LOADERS.register_lazy("pdf", "polyseek.ingest.pdf:PdfLoader")


def __getattr__(name: str) -> object:
    if name == "PdfLoader":
        from polyseek.ingest.pdf import PdfLoader

        return PdfLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def loader_for(path: str | os.PathLike[str], options: IngestOptions | None = None) -> Loader | None:
    """The loader for ``path``, or ``None`` when its extension is not supported.

    Reads the first bytes of the file: raises :class:`IngestError` when the file is
    empty, unreadable, or its content contradicts its extension.
    """
    kind = detect_kind(path)
    if kind is None:
        return None
    return LOADERS.resolve(kind)(options or DEFAULT_OPTIONS)


def iter_file(
    path: str | os.PathLike[str], source: str | None = None, options: IngestOptions | None = None
) -> Iterator[Item]:
    """:func:`load_file`, one item at a time (a long PDF is never held whole in memory).

    Raises :class:`IngestError` like :func:`load_file`, also while iterating.
    """
    path = Path(path)
    with ingest_errors(path):
        loader = loader_for(path, options)
        if loader is None:
            supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
            raise IngestError(
                str(path),
                f"unsupported file type {path.suffix or '(no extension)'!r}",
                hint=f"supported extensions: {supported}",
            )
        stream = (
            loader.iter_load(path, source if source is not None else path.name)
            if hasattr(loader, "iter_load")
            else iter(loader.load(path, source if source is not None else path.name))
        )
        yield from stream


def load_file(
    path: str | os.PathLike[str], source: str | None = None, options: IngestOptions | None = None
) -> list[Item]:
    """Load ``path`` into items; ``source`` (default: the file name) is its name in the collection.

    Raises :class:`IngestError` (path + reason) for every problem with the file,
    including an unsupported extension; configuration problems (OCR language data
    missing) raise :class:`~polyseek.errors.ConfigError`.
    """
    items = list(iter_file(path, source, options))
    logger.debug("loaded %s: %d items", path, len(items))
    return items


__all__ = [
    "DEFAULT_OPTIONS",
    "describe_os_error",
    "iter_file",
    "EXTENSION_KINDS",
    "LOADERS",
    "SUPPORTED_EXTENSIONS",
    "AudioLoader",
    "ImageLoader",
    "IngestOptions",
    "Kind",
    "Loader",
    "LoaderFactory",
    "OcrEngine",
    "PageProgressCallback",
    "PdfLoader",
    "TextLoader",
    "VideoLoader",
    "chunk_text",
    "detect_kind",
    "find_tessdata",
    "html_to_text",
    "load_file",
    "loader_for",
    "ocr_available",
    "ocr_image",
    "page_progress",
]
