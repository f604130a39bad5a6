"""Page retrieval on real PDF manuals that no one here wrote (issue 10, part 5).

Data: five manuals shipped in Debian documentation packages (``documents_corpus.MANUALS``:
gnuplot, LilyPond's Learning Manual, the Maxima book, Octave's manual cut to its first
300 pages, "Writing R Extensions"), fetched with ``apt-get download`` + ``dpkg-deb -x``
into a cache outside git, pinned by package version and sha256.

Split, fixed before any tuning: the TEST manual is the one of the alphabetically last
package (r-doc-pdf: ``R-exts.pdf``); the other four are DEV. Tune on DEV only; TEST is
printed first and is the headline. DEV numbers are macro averages (each manual counts
once).

Tasks (``documents_tasks``; seeded, one relevant page per query, the page it came from):
(a) a mid-page sentence of >= 8 words found on that page only -> its page;
(b) 3-6 content words from a window of a page's body, held by no other page -> its page;
(c) 40 pages per manual rendered at 150 dpi to grey JPEGs in an image-only PDF (no text
    layer), indexed through polyseek's OCR, queried with (a)-style sentences from the
    *original* text layer of those pages -> the page of the scan.

Systems, in one run on the same files: polyseek through its public API (one index per
manual and per ingest configuration, searched by every variant of ``VARIANTS``; hits are
mapped to pages by ``hit.source`` + ``hit.locator.page``, repeated pages removed, so a
region or passage hit counts for its page), LanceDB's default hybrid search (vector +
FTS, RRF reranker) with the same MiniLM over one row per page (its whole text layer;
for the scans, tesseract's own OCR of the scan images, see ``tesseract_texts``), and
BM25 alone (LanceDB FTS over the same rows).

Metrics: page hit@1, hit@5 and MRR@10 per task and manual; index time of each ingest
configuration as a ratio to the page-only ingest; median query latency (query
embedding included) as a ratio to LanceDB hybrid's, over the same queries.
``--json`` writes every number and every query's rank and latency per system (for paired
tests).

    .venv/bin/python benchmarks/documents.py --prepare        # fetch the manuals once
    .venv/bin/python benchmarks/documents.py --json out.json  # full run (~25 min, 2 cores)
    .venv/bin/python benchmarks/documents.py --manuals gnuplot --tasks a --max-queries 30

Measured 2026-12-02 at 3f9b2e9 (22.5 min, first run with OCR caches cold), TEST page
hit@1 (a) / (b) / (c): polyseek defaults (= dense today) 0.39 / 0.22 / 0.55, lexical
0.97 / 0.89 / 0.99, hybrid 0.87 / 0.69 / 0.97, LanceDB hybrid 0.53 / 0.35 / 0.70, BM25
0.97 / 0.89 / 0.99 (polyseek's lexical search is LanceDB's BM25 over the same page text:
the top hit agrees on every query). DEV tells the same story. Dense is weak because
MiniLM reads a page's first 256 word pieces only: over DEV + TEST, dense finds 66% of
the (a) sentences lying within them first and 20% of those beyond.

A new polyseek variant is one line in ``VARIANTS``: ingest-option and search-option
overrides. A variant whose option does not exist (yet) in ``IngestOptions`` or
``polyseek.Ranking`` is skipped with a note, so ``passages`` and ``regions`` run as soon as
their ingest option lands.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import documents_corpus as corpus  # noqa: E402
import documents_report as report  # noqa: E402
import peers  # noqa: E402
from documents_tasks import (  # noqa: E402
    KnownItem,
    ManualText,
    scan_pages,
    scan_queries,
    sentence_queries,
    word_queries,
)

import polyseek  # noqa: E402
from polyseek import Engine, Ranking  # noqa: E402
from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.ingest import IngestOptions  # noqa: E402

logger = logging.getLogger("benchmarks.documents")

TASKS = ("sentence", "words", "scan")
TASK_ALIASES = {"a": "sentence", "b": "words", "c": "scan"}
SCAN_DPI = 150
SCAN_SENTENCES_PER_PAGE = 3
PEER_HYBRID = "LanceDB hybrid (RRF) + MiniLM"
PEER_BM25 = "BM25 alone (LanceDB FTS)"

# IngestOptions fields that cut a page into smaller items (passages, layout regions). The
# page-only ingest turns off whichever of them exist; none exists today.
PAGE_SPLITTERS = ("pdf_passages", "passages", "pdf_regions", "regions", "pdf_layout")


@dataclass(frozen=True)
class Variant:
    """A polyseek row: ingest-option and search-option overrides.

    ``ingest`` keys may be a tuple of candidate field names (the first one that exists in
    ``IngestOptions`` is used). With ``page_only`` the ingest starts from the page-only
    options (``PAGE_SPLITTERS`` off); without, from ``IngestOptions()`` as it is today.
    """

    name: str
    ingest: Mapping[str | tuple[str, ...], Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    page_only: bool = True


VARIANTS: tuple[Variant, ...] = (
    Variant("polyseek defaults", page_only=False),  # no options: whatever the defaults are
    Variant("page-only dense", search={"dense": True, "lexical": False}),
    Variant("page-only hybrid", search={"dense": True, "lexical": True}),
    Variant("dense", search={"dense": True, "lexical": False}, page_only=False),
    Variant("lexical", search={"dense": False, "lexical": True}, page_only=False),
    Variant("passages hybrid", ingest={"pdf_passages": True}, search={"lexical": True}),
    *(
        Variant(f"hybrid w{w}", search={"lexical": True, "lexical_weight": w}, page_only=False)
        for w in (0.4, 0.5, 0.6, 0.7)
    ),
    Variant("hybrid rrf", search={"lexical": True, "fusion": "rrf"}, page_only=False),
    Variant("hybrid, grain region", search={"lexical": True, "grain": "region"}, page_only=False),
    # Passages that share no characters: about 6% fewer word pieces to embed (issue 10).
    Variant("no overlap", ingest={"passage_overlap": 0}, page_only=False),
    Variant(
        "no overlap, dense",
        ingest={"passage_overlap": 0},
        search={"dense": True, "lexical": False},
        page_only=False,
    ),
    # Passages of up to 2,000 characters sharing none, embedded as MiniLM reads them (their
    # first 256 word pieces): 1.7x the word pieces of page-only instead of 2.4x (40 pages of
    # the Octave manual, pdf_regions.py); words past a passage's 256th piece: BM25 only.
    Variant(
        "long passages",
        ingest={"passage_chars": 2000, "passage_tokens": 500, "passage_overlap": 0},
        page_only=False,
    ),
    Variant(
        "long passages, dense",
        ingest={"passage_chars": 2000, "passage_tokens": 500, "passage_overlap": 0},
        search={"dense": True, "lexical": False},
        page_only=False,
    ),
)


@dataclass
class Resolved:
    variant: Variant
    options: IngestOptions | None = None
    search: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


def resolve(variant: Variant) -> Resolved:
    """The variant's IngestOptions and search options, or why it cannot run here."""
    ingest_fields = {f.name: f for f in dataclasses.fields(IngestOptions)}
    query_fields = {f.name for f in dataclasses.fields(Ranking)}
    values: dict[str, Any] = {}
    if variant.page_only:
        defaults = IngestOptions()
        values = {
            n: False
            for n in PAGE_SPLITTERS
            if n in ingest_fields and isinstance(getattr(defaults, n), bool)
        }
    for key, value in variant.ingest.items():
        names = key if isinstance(key, tuple) else (key,)
        found = next((n for n in names if n in ingest_fields), None)
        if found is None:
            return Resolved(variant, skipped=f"IngestOptions has no field {' / '.join(names)}")
        values[found] = value
    missing = [k for k in variant.search if k not in query_fields]
    if missing:
        return Resolved(variant, skipped=f"polyseek.Ranking has no option {', '.join(missing)}")
    try:
        options = IngestOptions(**values)
    except polyseek.PolyseekError as exc:
        return Resolved(variant, skipped=f"IngestOptions rejects {values}: {exc}")
    return Resolved(variant, options, dict(variant.search))


def describe_options(options: IngestOptions) -> dict[str, Any]:
    """The fields in which ``options`` differ from ``IngestOptions()``."""
    default = IngestOptions()
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(IngestOptions)
        if getattr(options, f.name) != getattr(default, f.name)
    }


# ------------------------------------------------------------------ collections
@dataclass
class Collection:
    """One indexed file: a manual's text-layer PDF or the scan of some of its pages."""

    manual: corpus.Manual
    kind: str  # "text" | "scan"
    pdf: Path  # the file indexed, alone in its folder
    texts: list[str]  # per page: what the peers index
    queries: list[KnownItem]
    scan_pages: list[int] = field(default_factory=list)  # kind "scan": page of the manual file

    @property
    def name(self) -> str:
        return self.pdf.stem


def build_collections(
    manuals: Sequence[corpus.Manual], tasks: Sequence[str], args: argparse.Namespace, work: Path
) -> list[Collection]:
    out = []
    for manual in manuals:
        text = ManualText(corpus.page_texts(manual.pdf))
        queries: list[KnownItem] = []
        if "sentence" in tasks:
            queries += sentence_queries(manual.key, text, args.max_queries, args.seed)
        if "words" in tasks:
            queries += word_queries(manual.key, text, args.max_queries, args.seed)
        if queries:
            folder = work / "docs" / manual.key
            folder.mkdir(parents=True)
            pdf = _place(manual.pdf, folder / f"{manual.key}.pdf")
            out.append(Collection(manual, "text", pdf, text.pages, queries))
        if "scan" in tasks:
            pages = scan_pages(manual.key, text, args.scan_pages, args.seed)
            cached = corpus.cache_dir(args.cache) / "scans"
            cached.mkdir(parents=True, exist_ok=True)
            tag = f"{manual.pdf_sha256[:12]}-{SCAN_DPI}dpi-{'.'.join(map(str, pages))}"
            tag = f"{len(pages)}p-{hashlib.sha256(tag.encode()).hexdigest()[:12]}"
            scan = corpus.make_scan(manual.pdf, pages, SCAN_DPI, cached / f"{manual.key}-{tag}.pdf")
            folder = work / "docs" / f"{manual.key}-scan"
            folder.mkdir(parents=True)
            pdf = _place(scan, folder / f"{manual.key}-scan.pdf")
            squeries = scan_queries(manual.key, text, pages, SCAN_SENTENCES_PER_PAGE, args.seed)
            ocr = corpus.tesseract_texts(scan, SCAN_DPI)
            out.append(Collection(manual, "scan", pdf, ocr, squeries[: args.max_queries], pages))
        counts = Counter(q.task for c in out if c.manual is manual for q in c.queries)
        summary = ", ".join(f"{t} {counts[t]}" for t in tasks)
        logger.info("%s: %d pages; queries: %s", manual.key, len(text.pages), summary)
    return out


def _place(src: Path, dst: Path) -> Path:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


# ------------------------------------------------------------------ systems
Searcher = Callable[[str], list[int]]  # query text -> distinct pages, best first


def polyseek_searcher(engine: Engine, source: str, options: dict[str, Any], top: int) -> Searcher:
    def search(text: str) -> list[int]:
        result = engine.search(text, top=top, **options)
        pages = [h.locator.page for h in result.hits if h.source == source]
        return list(dict.fromkeys(p for p in pages if p is not None))[:top]

    return search


def index_polyseek(
    coll: Collection, options: IngestOptions, store: Path
) -> tuple[Engine, float, int]:
    """Index ``coll`` with ``options``; the engine, the index time and the item count."""
    engine = Engine.open(coll.pdf.parent, store=store, create=True)
    started = time.perf_counter()
    rep = engine.index(options=options)
    seconds = time.perf_counter() - started
    if rep.failed:
        raise RuntimeError(f"polyseek failed to index {coll.pdf}: {rep.failed}")
    return engine, seconds, rep.items


def index_lancedb(coll: Collection, encoder: Any, path: Path) -> tuple[Any, float]:
    """One LanceDB row per page (whole page text + MiniLM vector) with an FTS index."""
    started = time.perf_counter()
    vectors = encoder.embed_documents(coll.texts)
    pages = {"page": list(range(1, len(coll.texts) + 1))}
    table = peers.lancedb_table(path, "pages", pages, coll.texts, vectors)
    return table, time.perf_counter() - started


def lancedb_searchers(table: Any, encoder: Any, top: int) -> dict[str, Searcher]:
    def hybrid(text: str) -> list[int]:
        rows = peers.hybrid(table, encoder.embed_queries([text])[0], text, top)
        return list(dict.fromkeys(r["page"] for r in rows))[:top]

    def bm25(text: str) -> list[int]:
        return list(dict.fromkeys(r["page"] for r in peers.bm25(table, text, top)))[:top]

    return {PEER_HYBRID: hybrid, PEER_BM25: bm25}


# ------------------------------------------------------------------ the run
def run(args: argparse.Namespace) -> dict[str, Any]:
    started_run = time.perf_counter()
    tasks = [TASK_ALIASES.get(t, t) for t in args.tasks]
    manuals = corpus.prepare(corpus.cache_dir(args.cache), args.manuals)
    wanted = set(args.variants or [v.name for v in VARIANTS])
    unknown = wanted - {v.name for v in VARIANTS}
    if unknown:
        raise SystemExit(
            f"unknown variant(s) {sorted(unknown)}; known: {[v.name for v in VARIANTS]}"
        )
    resolved = [resolve(v) for v in VARIANTS if v.name in wanted]
    for r in resolved:
        if r.skipped:
            logger.warning("variant %r skipped: %s", r.variant.name, r.skipped)
    active = [r for r in resolved if r.options is not None]
    baseline = resolve(Variant("page-only baseline")).options
    if baseline is None:
        raise SystemExit("the page-only IngestOptions cannot be built (see PAGE_SPLITTERS)")
    configs: list[IngestOptions] = [baseline]
    for r in active:
        if r.options not in configs:
            configs.append(r.options)  # type: ignore[arg-type]
    encoder = load_encoder("minilm")

    work = Path(args.work or tempfile.mkdtemp(prefix="polyseek-documents-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        collections = build_collections(manuals, tasks, args, work)
        records: list[dict[str, Any]] = []
        index_rows: list[dict[str, Any]] = []
        for coll in collections:
            records += run_collection(coll, configs, active, encoder, args, work, index_rows)
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    systems = [r.variant.name for r in active] + [PEER_HYBRID, PEER_BM25]
    return {
        "environment": environment(),
        "settings": {
            "tasks": tasks,
            "max_queries": args.max_queries,
            "scan_pages": args.scan_pages,
            "scan_dpi": SCAN_DPI,
            "scan_sentences_per_page": SCAN_SENTENCES_PER_PAGE,
            "seed": args.seed,
            "top": args.top,
            "test_manual": corpus.TEST_MANUAL,
            "peer_scan_text": "tesseract (tesserocr, default settings) of the scan at 150 dpi",
        },
        "manuals": [m.describe() for m in manuals],
        "scans": {c.manual.key: c.scan_pages for c in collections if c.kind == "scan"},
        "variants": [
            {
                "name": r.variant.name,
                "ingest": describe_options(r.options) if r.options else None,
                "ingest_config": configs.index(r.options) if r.options else None,
                "search": r.search,
                "skipped": r.skipped,
            }
            for r in resolved
        ],
        "ingest_configs": [describe_options(c) for c in configs],
        "index": index_rows,
        "systems": systems,
        "queries": records,
        "metrics": report.metrics(records, systems, manuals, tasks),
        "seconds": time.perf_counter() - started_run,
    }


def run_collection(
    coll: Collection,
    configs: list[IngestOptions],
    active: list[Resolved],
    encoder: Any,
    args: argparse.Namespace,
    work: Path,
    index_rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Index ``coll`` once per ingest configuration and by the peers, then run its queries."""
    key = f"{coll.manual.key}/{coll.kind}"
    engines: dict[int, Engine] = {}
    for n, options in enumerate(configs):
        if n and not any(r.options == options for r in active):
            continue
        logger.info("%s: polyseek index, ingest config %d %s", key, n, describe_options(options))
        engine, seconds, items = index_polyseek(coll, options, work / "stores" / f"{n}" / coll.name)
        engines[n] = engine
        if n == 0 and items != len(coll.texts):
            logger.warning(
                "%s: the page-only ingest made %d items for %d pages: a new IngestOptions field "
                "probably splits pages; add it to PAGE_SPLITTERS",
                key,
                items,
                len(coll.texts),
            )
        index_rows.append(
            {
                "collection": key,
                "kind": coll.kind,
                "system": f"polyseek ingest {n}",
                "config": n,
                "seconds": seconds,
                "items": items,
                "pages": len(coll.texts),
            }
        )
    logger.info("%s: LanceDB table (MiniLM + FTS), %d pages", key, len(coll.texts))
    table, seconds = index_lancedb(coll, encoder, work / "lancedb" / coll.name)
    index_rows.append(
        {
            "collection": key,
            "kind": coll.kind,
            "system": "LanceDB",
            "config": None,
            "seconds": seconds,
            "items": len(coll.texts),
            "pages": len(coll.texts),
        }
    )
    source = coll.pdf.name
    searchers: dict[str, Searcher] = {
        r.variant.name: polyseek_searcher(
            engines[configs.index(r.options)],
            source,
            r.search,
            args.top,  # type: ignore[arg-type]
        )
        for r in active
    }
    searchers.update(lancedb_searchers(table, encoder, args.top))
    for search in searchers.values():  # warm up: encoder loaded, tables opened
        search("warm up the caches")
    logger.info("%s: %d queries x %d systems", key, len(coll.queries), len(searchers))
    records = []
    for q in coll.queries:
        ranks: dict[str, int | None] = {}
        ms: dict[str, float] = {}
        found: dict[str, list[int]] = {}
        for name, search in searchers.items():  # interleaved: load changes hit all alike
            t0 = time.perf_counter()
            pages = search(q.text)
            ms[name] = (time.perf_counter() - t0) * 1000
            ranks[name] = pages.index(q.page) + 1 if q.page in pages else None
            found[name] = pages
        file_page = q.source_page
        records.append(
            {
                "id": q.id,
                "manual": q.manual,
                "split": coll.manual.split,
                "task": q.task,
                "text": q.text,
                "page": q.page,
                "manual_page": coll.manual.original_page(file_page),
                "ranks": ranks,
                "ms": ms,
                "pages": found,  # the distinct pages returned, best first
            }
        )
    return records


def environment() -> dict[str, Any]:
    import lancedb
    import pymupdf
    import tesserocr

    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "polyseek": polyseek.__version__,
        "polyseek_commit": commit,
        "lancedb": lancedb.__version__,
        "pymupdf": pymupdf.VersionBind,
        "tesseract": tesserocr.tesseract_version().split()[1],
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prepare", action="store_true", help="fetch the manuals and stop")
    p.add_argument(
        "--manuals", nargs="+", help=f"keys ({', '.join(m.key for m in corpus.MANUALS)})"
    )
    p.add_argument("--tasks", nargs="+", default=list(TASKS), help="sentence|a words|b scan|c")
    p.add_argument("--variants", nargs="+", help="polyseek variants to run (default: all)")
    p.add_argument("--max-queries", type=int, default=150, help="per manual and task")
    p.add_argument("--scan-pages", type=int, default=40, help="pages scanned per manual")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=10, help="hits asked of every system")
    p.add_argument("--json", type=Path, help="write all numbers and per-query ranks here")
    p.add_argument(
        "--cache", help="cache folder (default $POLYSEEK_BENCH_CACHE or ~/.cache/polyseek-bench)"
    )
    p.add_argument("--work", help="folder for the indexes (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary indexes")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "sentence_transformers", "lance", "lancedb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for t in args.tasks:
        if TASK_ALIASES.get(t, t) not in TASKS:
            p.error(f"unknown task {t!r}; choose from {', '.join(TASKS)} (or a, b, c)")
    try:
        if args.prepare:
            for m in corpus.prepare(corpus.cache_dir(args.cache), args.manuals):
                print(
                    f"{m.key:18} {m.split:4} {m.spec.package} {m.version} "
                    f"pages {m.first_page}-{m.last_page} of {m.pages_total}  {m.pdf}"
                )
            return
        result = run(args)
    except corpus.BenchDataError as exc:
        raise SystemExit(f"error: {exc}") from None
    report.print_tables(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
