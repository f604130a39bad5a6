"""OCR in worker processes: one tesseract engine per process, pages in parallel.

Tesseract spends ~1 s of one core on a dense 200-dpi page. A worker is this package's
``_ocr_worker.py`` run as a script by the same Python: it imports Pillow and tesserocr
only (importing polyseek would cost ~5 s and 300 MB per worker), starts and reads its
first page in ~0.6 s, holds ~70 MB, and keeps its engine for its whole life.
Requests (a page image) and results (words with boxes, layout blocks) travel pickled
over its stdin/stdout. No ``fork`` of the (threaded, model-holding) indexer process.

One pool per (language, size) is shared by every loader and thread of the process
(:func:`get_ocr_pool`), so indexing many scanned PDFs at once still runs at most
``ocr_workers`` tesseract processes. A worker that dies (a crash inside tesseract) is
replaced; the page it was reading gets :class:`OcrWorkerError`.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyseek.errors import MissingDependencyError, PolyseekError
from polyseek.ingest.ocr import find_tessdata

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

_WORKER = Path(__file__).with_name("_ocr_worker.py")
_START_TIMEOUT_S = 60.0


class OcrWorkerError(PolyseekError):
    """An OCR worker failed on one page (it crashed, or tesseract raised)."""


class _Worker:
    """One worker process and its pipes; used by one thread at a time."""

    def __init__(self, tessdata: Path, lang: str) -> None:
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(_WORKER), str(tessdata), lang],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            hello = self._receive()
        except OcrWorkerError as exc:
            self.close()
            raise MissingDependencyError(
                f"the OCR worker process failed to start: {exc}",
                hint="check that tesserocr imports (pip install tesserocr), "
                "or set IngestOptions(ocr_workers=0) to OCR in-process",
            ) from None
        if "error" in hello:
            self.close()
            raise MissingDependencyError(
                f"tesseract failed to start in the OCR worker (lang={lang!r}, "
                f"tessdata={tessdata}): {hello['error']}",
                hint="install the tesseract language data (apt-get install tesseract-ocr)",
            )
        self.pid = int(hello.get("pid", self.proc.pid))
        logger.debug("started OCR worker %d (%s, %s)", self.pid, lang, tessdata)

    def _receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            result = pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            code = self.proc.poll()
            raise OcrWorkerError(
                f"OCR worker {self.proc.pid} stopped (exit code {code}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(result, dict):
            raise OcrWorkerError(f"OCR worker {self.proc.pid} sent {type(result).__name__}")
        return result

    def read(self, image: Image, dpi: int) -> dict[str, Any]:
        assert self.proc.stdin is not None
        request = (image.mode, image.size, image.tobytes(), int(dpi))
        try:
            pickle.dump(request, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except OSError as exc:
            raise OcrWorkerError(f"OCR worker {self.proc.pid} is gone: {exc}") from None
        return self._receive()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 5.0) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class OcrPool:
    """Up to ``workers`` OCR processes for one language; thread-safe.

    :meth:`read` blocks until a worker is free, so as many threads as there are workers
    keep all of them busy. Workers start on first use and live until :meth:`close`.
    """

    def __init__(
        self, lang: str = "eng", workers: int = 2, tessdata: str | os.PathLike[str] | None = None
    ) -> None:
        if workers < 1:
            raise ValueError(f"an OCR pool needs at least one worker, got {workers}")
        self.lang = lang
        self.workers = workers
        self.tessdata = Path(tessdata) if tessdata is not None else find_tessdata(lang)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._closed = False

    def read(self, image: Image, dpi: int) -> dict[str, Any]:
        """OCR ``image`` in a worker: ``{"size", "blocks", "words"}`` (see ``_ocr_worker``)."""
        if image.mode not in ("L", "RGB", "RGBA", "1"):
            image = image.convert("RGB")
        with self._slots:
            worker = self._take()
            try:
                result = worker.read(image, dpi)
            except OcrWorkerError:
                self._drop(worker)
                raise
            if self._closed:
                worker.close()
            else:
                self._idle.put(worker)
        if "error" in result:
            raise OcrWorkerError(f"tesseract failed on the page: {result['error']}")
        return result

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker.alive():
                return worker
            self._drop(worker)
        with self._lock:
            if self._closed:
                raise OcrWorkerError("the OCR pool is closed")
            worker = _Worker(self.tessdata, self.lang)
            self._all.append(worker)
        return worker

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.close(timeout=1.0)

    def pids(self) -> list[int]:
        """Process ids of the running workers."""
        with self._lock:
            return [w.proc.pid for w in self._all if w.alive()]

    def close(self) -> None:
        """Stop every worker (idle ones at once; busy ones when their page is done)."""
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()


_POOLS: dict[tuple[str, int], OcrPool] = {}
_POOLS_LOCK = threading.Lock()


def get_ocr_pool(lang: str = "eng", workers: int = 2) -> OcrPool:
    """The process's shared pool for ``lang`` with ``workers`` processes."""
    with _POOLS_LOCK:
        pool = _POOLS.get((lang, workers))
        if pool is None:
            pool = _POOLS[(lang, workers)] = OcrPool(lang, workers)
        return pool


@atexit.register
def close_ocr_pools() -> None:
    """Stop the workers of every shared pool (also run at interpreter exit)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
