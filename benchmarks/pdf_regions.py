"""PDF page passages and layout regions: what they cost on a real manual, in one run.

Takes a slice of a real born-digital manual (default: 40 pages of the GNU Octave manual
from the Debian package octave-doc) and measures, with the same MiniLM model loaded:

  loader     PdfLoader seconds per page: page-only (one item per page, the old output),
             + passages, + regions; items, passages and regions per page
  ingest     Engine.index() of the slice into a fresh store: page-only (one vector per
             page, its first 256 word pieces), + passages (every word of the page, one
             vector per passage), + regions (the default), interleaved, medians
  projected  embedding cost of what an indexer embeds when it uses passages:
             page text (1 vector/page, the baseline) / passages / passages + the region
             texts that are no page passage (tables, figures) / passages + all regions

The goal: region ingest costs at most 1.5x page-only ingest.

    apt-get download octave-doc && dpkg-deb -x octave-doc_*.deb /tmp/octave-doc
    .venv/bin/python benchmarks/pdf_regions.py --pdf /tmp/octave-doc/usr/share/doc/octave/octave.pdf
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import pymupdf  # noqa: E402

from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.engine import Engine  # noqa: E402
from polyseek.ingest import IngestOptions, PdfLoader  # noqa: E402
from polyseek.types import Item  # noqa: E402

DEFAULT_PDF = Path("/tmp/octave-doc/usr/share/doc/octave/octave.pdf")
CONFIGS = {
    "page-only": IngestOptions(ocr=False, pdf_passages=False, pdf_regions=False),
    "+ passages": IngestOptions(ocr=False, pdf_regions=False),
    "+ regions": IngestOptions(ocr=False),
}


def slice_pdf(src: Path, first: int, count: int, dest: Path) -> Path:
    doc = pymupdf.open(src)
    out = pymupdf.open()
    out.insert_pdf(doc, from_page=first, to_page=min(first + count, doc.page_count) - 1)
    out.save(dest)
    return dest


def time_loader(path: Path, options: IngestOptions, repeat: int) -> tuple[float, list[Item]]:
    loader = PdfLoader(options)
    runs, items = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        items = loader.load(path, path.name)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), items


def time_index(folder: Path, options: IngestOptions) -> tuple[float, float, int]:
    """Wall and CPU seconds (all threads of this process) of one index run, and its items."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(folder, store=Path(tmp) / "idx", create=True)
        t0, c0 = time.perf_counter(), time.process_time()
        report = engine.index(options=options)
        return time.perf_counter() - t0, time.process_time() - c0, report.items


def region_texts(region: Item) -> list[str]:
    """What an indexer embeds for a region: its passages, or its whole text."""
    if region.passages:
        return [region.text[q.char_start : q.char_end] for q in region.passages]
    return [region.text] if region.text.strip() else []


def projected_texts(items: list[Item]) -> dict[str, list[str]]:
    pages = [i for i in items if i.locator.region is None]
    regions = [i for i in items if i.locator.region is not None]
    passages = [p.text[q.char_start : q.char_end] for p in pages for q in p.passages]
    # Text regions are spans of their page whose passages are the page's: shared vectors.
    own = [t for r in regions if "page_chars" not in r.metadata for t in region_texts(r)]
    every = [t for r in regions for t in region_texts(r)]
    return {
        "page text (1 vector/page)": [p.text for p in pages],
        "passages": passages,
        "passages + table/figure regions": passages + own,
        "passages + every region (no sharing)": passages + every,
    }


def row(cells: list[object], widths: list[int]) -> str:
    """One table line: the first cell left-aligned, the others right-aligned."""
    out = [f"{cells[0]!s:<{widths[0]}}"]
    for cell, width in zip(cells[1:], widths[1:], strict=True):
        text = f"{cell:.2f}" if isinstance(cell, float) else str(cell)
        out.append(f"{text:>{width}}")
    return " ".join(out)


def loader_table(path: Path, n: int, repeat: int) -> dict[str, list[Item]]:
    widths = [14, 8, 12, 8, 11, 10]
    print(row(["loader", "ms/page", "x page-only", "items/p", "passages/p", "regions/p"], widths))
    base = None
    loaded: dict[str, list[Item]] = {}
    for name, options in CONFIGS.items():
        seconds, items = time_loader(path, options, repeat)
        loaded[name] = items
        pages = [i for i in items if i.locator.region is None]
        base = base or seconds
        passages = sum(len(p.passages) for p in pages)
        cells = [name, 1000 * seconds / n, seconds / base, len(items) / n, passages / n]
        print(row([*cells, (len(items) - len(pages)) / n], widths))
    kinds: dict[str, int] = {}
    for item in loaded["+ regions"]:
        if item.locator.region:
            kinds[item.locator.region] = kinds.get(item.locator.region, 0) + 1
    print("region kinds:", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return loaded


def embedding_table(items: list[Item], n: int) -> None:
    enc = load_encoder("minilm")
    texts = projected_texts(items)
    enc.embed_documents(texts["passages"][:32])  # warm-up
    widths = [40, 6, 8, 12]
    print("\n" + row(["projected embedding (MiniLM)", "texts", "ms/page", "x page text"], widths))
    first = None
    for name, batch in texts.items():
        t0 = time.perf_counter()
        enc.embed_documents(batch)
        seconds = time.perf_counter() - t0
        first = first or seconds
        print(row([name, len(batch), 1000 * seconds / n, seconds / first], widths))


def index_table(folder: Path, n: int, repeat: int) -> None:
    """Engine.index() per ingest configuration, interleaved ``repeat`` times (medians).

    CPU seconds too: on a machine shared with other work they vary less than wall time.
    """
    widths = [30, 7, 8, 6, 12, 12, 7, 12]
    header = ["Engine.index()", "s", "ms/page", "items", "x page-only", "x passages"]
    print("\n" + row([*header, "cpu s", "cpu x page"], widths))
    runs: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for name, options in CONFIGS.items():
            seconds, cpu_seconds, counts[name] = time_index(folder, options)
            runs[name].append(seconds)
            cpu[name].append(cpu_seconds)
    med = {name: statistics.median(r) for name, r in runs.items()}
    cpu_med = {name: statistics.median(r) for name, r in cpu.items()}
    for name in CONFIGS:
        cells = [name, med[name], 1000 * med[name] / n, counts[name]]
        ratios = [med[name] / med["page-only"], med[name] / med["+ passages"]]
        print(row([*cells, *ratios, cpu_med[name], cpu_med[name] / cpu_med["page-only"]], widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    ap.add_argument("--first", type=int, default=300, help="first page (0-based)")
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-index", action="store_true", help="skip the Engine.index() runs")
    args = ap.parse_args()
    if not args.pdf.is_file():
        sys.exit(f"{args.pdf} not found: see the module docstring for how to get a manual")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "col"
        folder.mkdir()
        path = slice_pdf(args.pdf, args.first, args.pages, folder / "manual.pdf")
        n = pymupdf.open(path).page_count
        print(f"\n{args.pdf.name}, pages {args.first + 1}-{args.first + n} ({n} pages)")
        loaded = loader_table(path, n, args.repeat)
        embedding_table(loaded["+ regions"], n)
        if not args.no_index:
            index_table(folder, n, args.repeat)


if __name__ == "__main__":
    main()
