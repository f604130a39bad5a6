"""OCR worker processes: same result as in-process OCR, shared, bounded, self-healing."""

from __future__ import annotations

import ast
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from polyseek.errors import MissingDependencyError
from polyseek.ingest import _ocr_worker
from polyseek.ingest.ocr import get_ocr_engine
from polyseek.ingest.ocr_pool import OcrPool, OcrWorkerError, get_ocr_pool
from tests.helpers.pdf_pages import text_image

LINES = ["Replace the intake filter cartridge.", "Tighten the housing bolts to 25 Nm."]


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return text_image(LINES, size=(1200, 600), top=100)


@pytest.fixture
def pool() -> Iterator[OcrPool]:
    pool = OcrPool("eng", workers=2)
    yield pool
    pool.close()


def words(result: dict[str, Any]) -> list[str]:
    return [w[4] for w in result["words"]]


def test_a_worker_reads_what_the_in_process_engine_reads(pool: OcrPool, page: Image.Image) -> None:
    result = pool.read(page, 200)
    assert result == get_ocr_engine().read_page(page, 200)
    assert " ".join(words(result)) == " ".join(LINES)
    assert result["size"] == page.size
    x0, y0, x1, y1, word, para, line, block = result["words"][0]
    assert (word, line) == ("Replace", 0) and abs(x0 - 160) < 10 and abs(y0 - 100) < 20
    assert result["words"][-1][6] == 1  # the second line
    assert [kind for kind, _ in result["blocks"]] == ["FLOWING_TEXT"]


def test_workers_are_other_processes_and_at_most_the_pool_size(
    pool: OcrPool, page: Image.Image
) -> None:
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(pool.read(page, 200))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(words(r) == words(results[0]) for r in results)
    pids = pool.pids()
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def test_a_dead_worker_is_replaced(pool: OcrPool, page: Image.Image) -> None:
    pool.read(page, 200)
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert " ".join(words(pool.read(page, 200))) == " ".join(LINES)
    assert pool.pids() and pid not in pool.pids()


def test_a_blank_page_has_no_words(pool: OcrPool) -> None:
    assert pool.read(Image.new("L", (800, 1100), 255), 200) == {
        "size": (800, 1100),
        "blocks": [],
        "words": [],
    }


def test_other_image_modes_are_converted(pool: OcrPool, page: Image.Image) -> None:
    assert words(pool.read(page.convert("CMYK"), 200)) == words(pool.read(page, 200))


def test_missing_language_data_is_a_configuration_error(tmp_path: Path, page: Image.Image) -> None:
    broken = OcrPool("eng", workers=1, tessdata=tmp_path)  # no eng.traineddata there
    with pytest.raises(MissingDependencyError, match="tesseract failed to start") as info:
        broken.read(page, 200)
    assert info.value.hint is not None and "tesseract-ocr" in info.value.hint
    broken.close()


def test_a_closed_pool_refuses_work(page: Image.Image) -> None:
    pool = OcrPool("eng", workers=1)
    pool.read(page, 200)
    pool.close()
    assert pool.pids() == []
    with pytest.raises(OcrWorkerError, match="closed"):
        pool.read(page, 200)


def test_the_shared_pool_is_one_per_language_and_size() -> None:
    assert get_ocr_pool("eng", 2) is get_ocr_pool("eng", 2)
    assert get_ocr_pool("eng", 1) is not get_ocr_pool("eng", 2)


def test_the_worker_imports_no_polyseek_module() -> None:
    # A worker is started often and must stay light: importing polyseek costs ~5 s.
    worker = Path(_ocr_worker.__file__)
    imported: set[str] = set()
    for node in ast.walk(ast.parse(worker.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not any(name.startswith("polyseek") for name in imported), imported
