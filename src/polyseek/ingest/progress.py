"""Progress of long documents, reported to whoever reads them (the indexer's progress bar).

Like :func:`polyseek.ingest.media.media_progress` for media time: the indexer wraps a
file's loading in ``with page_progress(callback):`` and the PDF loader calls
``callback(pages done, page count)`` after each page, without knowing about progress bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PageProgressCallback = Callable[[int, int], None]
"""Called with (pages done so far, pages in the document)."""

_ambient: ContextVar[PageProgressCallback | None] = ContextVar(
    "polyseek_page_progress", default=None
)


@contextmanager
def page_progress(callback: PageProgressCallback) -> Iterator[None]:
    """Report every page of every document read in this context (thread) to ``callback``.

    The loader looks the callback up when it starts reading a file (the first ``next()``
    of :meth:`~polyseek.ingest.PdfLoader.iter_load`) and keeps it for that file, so a
    stream of items may be consumed later, outside the ``with`` block.
    """
    token = _ambient.set(callback)
    try:
        yield
    finally:
        _ambient.reset(token)


def current_page_progress() -> PageProgressCallback | None:
    """The callback set by the innermost :func:`page_progress`, if any."""
    return _ambient.get()
