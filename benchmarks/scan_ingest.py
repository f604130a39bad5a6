"""Scanned-PDF ingest: seconds per page through PdfLoader vs the bare tesseract CLI.

Renders ~20 pages of a real manual (default: R's "An Introduction to R" from the Debian
package r-doc-pdf) to 200-dpi grey images and wraps them in an image-only PDF, as a
scanner would. Then, in one run, on the same page images:

  tesseract CLI     ``tesseract page.png -`` (PSM 3, like the loader), one process per page,
                    OMP_THREAD_LIMIT=1; sequentially, and two pages at a time
  PdfLoader         the loader on the image-only PDF (render once, OCR with word and block
                    boxes, passages, regions): in-process (ocr_workers=0), 1 and 2 workers

The loader's ratio to the CLI at the same parallelism is the overhead of everything
around tesseract (rendering, IPC, layout); the ratio between 2 workers and the in-process
loader is what the worker pool buys.

    apt-get download r-doc-pdf && dpkg-deb -x r-doc-pdf_*.deb /tmp/r-doc-pdf
    .venv/bin/python benchmarks/scan_ingest.py [--pdf R-intro.pdf] [--repeat 3]

Methods run interleaved, ``--repeat`` times; rows give the median and the best run (on a
shared machine the best run is the one least disturbed by others).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import pymupdf  # noqa: E402

from polyseek.ingest import IngestOptions, PdfLoader  # noqa: E402
from polyseek.ingest.ocr_pool import close_ocr_pools  # noqa: E402

DEFAULT_PDF = Path("/tmp/r-doc-pdf/usr/share/doc/r-doc-pdf/manual/R-intro.pdf")
DPI = 200


def make_scan(src: Path, first: int, pages: int, workdir: Path) -> tuple[Path, list[Path]]:
    """An image-only PDF of ``pages`` pages of ``src``, and the 200-dpi page images the
    loader will OCR (rendered back from that PDF, as the loader renders them)."""
    doc = pymupdf.open(src)
    scan = pymupdf.open()
    zoom = pymupdf.Matrix(DPI / 72, DPI / 72)
    for index in range(first, min(first + pages, doc.page_count)):
        page = doc[index]
        pix = page.get_pixmap(matrix=zoom, colorspace=pymupdf.csGRAY, alpha=False)
        out = scan.new_page(width=page.rect.width, height=page.rect.height)
        out.insert_image(out.rect, stream=pix.tobytes("png"))
    path = workdir / "scan.pdf"
    scan.save(path)
    images = []
    for i, page in enumerate(pymupdf.open(path)):
        png = workdir / f"page-{i:03d}.png"
        page.get_pixmap(matrix=zoom, colorspace=pymupdf.csGRAY, alpha=False).save(png)
        images.append(png)
    return path, images


def cli(images: list[Path], parallel: int) -> tuple[float, int]:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(png: Path) -> int:
        out = subprocess.run(
            ["tesseract", str(png), "-", "--dpi", str(DPI)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return len(out.stdout.split())

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        words = sum(pool.map(one, images))
    return time.perf_counter() - t0, words


def loader(path: Path, workers: int) -> tuple[float, int, int]:
    options = IngestOptions(ocr_workers=workers)
    t0 = time.perf_counter()
    items = PdfLoader(options).load(path, path.name)
    seconds = time.perf_counter() - t0
    pages = [i for i in items if i.locator.region is None]
    return seconds, sum(len(p.text.split()) for p in pages), len(items) - len(pages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    ap.add_argument("--first", type=int, default=10, help="first page (0-based)")
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.pdf.is_file():
        sys.exit(f"{args.pdf} not found: see the module docstring for how to get a manual")
    if shutil.which("tesseract") is None:
        sys.exit("the tesseract CLI is not installed (apt-get install tesseract-ocr)")
    with tempfile.TemporaryDirectory() as tmp:
        path, images = make_scan(args.pdf, args.first, args.pages, Path(tmp))
        n = len(images)
        pages = f"pages {args.first + 1}-{args.first + n}"
        print(f"\n{args.pdf.name}, {pages}: {n} image-only pages at {DPI} dpi")
        methods: dict[str, Callable[[], tuple[float, int, int]]] = {
            "tesseract CLI, 1 at a time": lambda: (*cli(images, 1), 0),
            "tesseract CLI, 2 at a time": lambda: (*cli(images, 2), 0),
            "PdfLoader, OCR in-process": lambda: loader(path, 0),
            "PdfLoader, 1 OCR worker": lambda: loader(path, 1),
            "PdfLoader, 2 OCR workers": lambda: loader(path, 2),
        }
        loader(path, 2)  # start the shared workers, as a long index run would have them
        loader(path, 1)
        runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in methods}
        for _ in range(args.repeat):
            for name, method in methods.items():
                runs[name].append(method())
        close_ocr_pools()
    med = {name: statistics.median(r[0] for r in rs) for name, rs in runs.items()}
    best = {name: min(r[0] for r in rs) for name, rs in runs.items()}
    same = {
        "PdfLoader, OCR in-process": "tesseract CLI, 1 at a time",
        "PdfLoader, 1 OCR worker": "tesseract CLI, 1 at a time",
        "PdfLoader, 2 OCR workers": "tesseract CLI, 2 at a time",
    }
    widths = (28, 7, 6, 12, 6, 6, 8)
    head = ("method", "s/page", "x CLI", "best s/page", "x CLI", "words", "regions")
    print(
        " ".join(
            f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )
    for name, rs in runs.items():
        ref = same.get(name, name)
        cells = f"{med[name] / n:>7.2f} {med[name] / med[ref]:>6.2f} {best[name] / n:>12.2f}"
        cells += f" {best[name] / best[ref]:>6.2f} {rs[-1][1]:>6} {rs[-1][2]:>8}"
        print(f"{name:<28} {cells}")
    print("x CLI: against the CLI at the same parallelism (2 workers vs 2 at a time)")
    print("runs (s):", {name: [round(r[0], 1) for r in rs] for name, rs in runs.items()})


if __name__ == "__main__":
    main()
