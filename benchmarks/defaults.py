"""Which ranking should be the default, and does adding a modality hurt text search?

Known-item paper search through the public API, as a user would run it: every paper of
the bundled listings (shared/data/papers, 206 distinct papers) becomes a text file holding
its abstract; its title is the query; the one relevant result is that file.

The split is fixed before any tuning: a title whose SHA-1 starts with an even hex digit is
DEV, the others TEST (about half each). Choose options on DEV; TEST is the headline.

(1) ranking rows: polyseek's defaults, its variants (``ROWS``), and LanceDB's default
    hybrid search (vector + FTS, RRF reranker) with the same MiniLM over the same
    abstracts, all in one run; MRR@10 and hit@1 on DEV and TEST, query latency as a ratio
    to LanceDB's.
(2) adding a modality: the same collection plus 60 pictures without text (Tux Paint's
    stamps, Debian package ``tuxpaint-stamps-default``, fetched into a cache outside git)
    indexed with ``minilm`` plus a tiny *random* CLIP (the weakest image-text encoder there
    is): text-only title queries with default options must keep >= 0.98x the MRR@10 of
    the text-only index.

    .venv/bin/python benchmarks/defaults.py [--rows NAME ...] [--skip-modality]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

from polyseek import Engine  # noqa: E402
from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.ingest import IngestOptions  # noqa: E402
from polyseek.samples import Paper, load_papers  # noqa: E402

PAPERS = REPO.parent / "shared" / "data" / "papers"
CACHE = Path.home() / ".cache" / "polyseek-bench"
STAMPS_PACKAGE = "tuxpaint-stamps-default"
N_PICTURES = 60

# (name, search options). The first row is whatever the defaults are when this runs.
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("polyseek defaults", {}),
    ("dense", {"dense": True, "lexical": False}),
    ("lexical (BM25)", {"dense": False, "lexical": True}),
    *(
        (f"hybrid {fusion} {w}", {"lexical": True, "fusion": fusion, "lexical_weight": w})
        for fusion in ("zscore",)
        for w in (0.4, 0.5, 0.6, 0.7)
    ),
]


def split_of(title: str) -> str:
    return "dev" if int(hashlib.sha1(title.encode()).hexdigest()[0], 16) % 2 == 0 else "test"


@dataclass(frozen=True)
class KnownItem:
    title: str
    source: str  # collection-relative file holding the abstract
    split: str


def write_papers(papers: Sequence[Paper], root: Path) -> list[KnownItem]:
    (root / "papers").mkdir(parents=True, exist_ok=True)
    out = []
    for n, p in enumerate(papers):
        source = f"papers/paper{n:03d}.txt"
        (root / source).write_text(p.abstract + "\n", encoding="utf-8")
        out.append(KnownItem(p.title, source, split_of(p.title)))
    return out


def reciprocal_rank(sources: Sequence[str], want: str, k: int = 10) -> float:
    for rank, s in enumerate(sources[:k], 1):
        if s == want:
            return 1.0 / rank
    return 0.0


def measure(search: Callable[[str], list[str]], queries: Sequence[KnownItem]) -> dict[str, Any]:
    """MRR@10 and hit@1 per split, and the median latency in ms."""
    rr: dict[str, list[float]] = {"dev": [], "test": []}
    times = []
    for q in queries:
        t0 = time.perf_counter()
        sources = search(q.title)
        times.append((time.perf_counter() - t0) * 1000)
        rr[q.split].append(reciprocal_rank(sources, q.source))
    out: dict[str, Any] = {"ms": statistics.median(times)}
    for split, values in rr.items():
        out[f"{split} mrr@10"] = float(np.mean(values))
        out[f"{split} hit@1"] = float(np.mean([v == 1.0 for v in values]))
        out[f"{split} n"] = len(values)
    return out


def lancedb_hybrid(root: Path, queries: Sequence[KnownItem], work: Path) -> dict[str, Any]:
    """LanceDB's default hybrid search over the same abstracts with the same MiniLM."""
    encoder = load_encoder("minilm")
    files = sorted((root / "papers").glob("*.txt"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    sources = {"source": [f"papers/{f.name}" for f in files]}
    table = peers.lancedb_table(
        work / "lancedb-peer", "docs", sources, texts, encoder.embed_documents(texts)
    )

    def search(title: str) -> list[str]:
        rows = peers.hybrid(table, encoder.embed_queries([title])[0], title, 10)
        return [r["source"] for r in rows]

    return measure(search, queries)


def polyseek_search(engine: Engine, options: dict[str, Any]) -> Callable[[str], list[str]]:
    def search(title: str) -> list[str]:
        return [h.source for h in engine.search(title, top=10, **options).hits]

    return search


def print_table(title: str, rows: list[tuple[str, dict[str, Any]]], base_ms: float) -> None:
    print(f"\n{title}")
    head = f"{'TEST mrr@10':>11} {'hit@1':>6}   {'DEV mrr@10':>10} {'hit@1':>6}  {'time':>6}"
    print(f"{'':44} {head}")
    for name, m in rows:
        print(
            f"{name:44} {m['test mrr@10']:11.4f} {m['test hit@1']:6.3f}   "
            f"{m['dev mrr@10']:10.4f} {m['dev hit@1']:6.3f}  {m['ms'] / base_ms:5.2f}x"
        )


# ------------------------------------------------------------------------ (2) modality
def stamp_pictures(n: int = N_PICTURES) -> list[Path]:
    """``n`` text-free pictures from Tux Paint's stamps (fetched once into the cache)."""
    folder = CACHE / "stamps"
    unpacked = folder / "root"
    if not unpacked.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["apt-get", "download", STAMPS_PACKAGE], cwd=folder, check=True, capture_output=True
        )
        deb = next(folder.glob(f"{STAMPS_PACKAGE}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        deb.unlink()
    # Animals, food and plants: pictures, no writing (the "symbols" stamps are letters,
    # flags and coins).
    kinds = ("animals", "food", "plants")
    pngs = sorted(
        p
        for p in unpacked.rglob("*.png")
        if "thumb" not in p.name and any(f"/stamps/{k}/" in p.as_posix() for k in kinds)
    )
    if len(pngs) < n:
        raise SystemExit(f"only {len(pngs)} stamp pictures in {unpacked}")
    step = len(pngs) / n
    return [pngs[int(i * step)] for i in range(n)]


def modality_table(papers: Sequence[Paper]) -> None:
    from tests.helpers.tiny_models import make_tiny_clip

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        text_root = tmp_path / "text-only"
        queries = write_papers(papers, text_root)
        mixed_root = tmp_path / "with-pictures"
        shutil.copytree(text_root, mixed_root)
        (mixed_root / "pictures").mkdir()
        for n, picture in enumerate(stamp_pictures()):
            shutil.copy2(picture, mixed_root / "pictures" / f"picture{n:02d}.png")
        clip = make_tiny_clip(tmp_path / "tiny-clip")
        text_only = Engine.open(text_root, create=True)
        text_only.index()
        mixed = Engine.open(mixed_root, create=True, encoders=["minilm", f"clip:{clip}"])
        mixed.index()
        base = measure(polyseek_search(text_only, {}), queries)
        got = measure(polyseek_search(mixed, {}), queries)
        print("\n(2) adding 60 text-free pictures + a tiny random CLIP, default options")
        print(f"{'':44} {'TEST mrr@10':>11} {'DEV mrr@10':>11}")
        for label, m in (("text-only index (minilm)", base), ("+ pictures, + random CLIP", got)):
            print(f"{label:44} {m['test mrr@10']:11.4f} {m['dev mrr@10']:11.4f}")
        for split in ("test", "dev"):
            ratio = got[f"{split} mrr@10"] / base[f"{split} mrr@10"]
            print(f"  {split.upper()} ratio {ratio:.3f}x (goal >= 0.98x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", nargs="*", help="only these ROWS (by name)")
    ap.add_argument("--skip-modality", action="store_true")
    ap.add_argument(
        "--ingest", nargs="*", default=[], metavar="FIELD=VALUE", help="IngestOptions overrides"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    papers = load_papers(PAPERS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "papers-collection"
        queries = write_papers(papers, root)
        dev = sum(q.split == "dev" for q in queries)
        print(f"{len(queries)} titles -> abstracts: {dev} DEV, {len(queries) - dev} TEST")
        engine = Engine.open(root, create=True)
        overrides = {k: int(v) for k, v in (o.split("=", 1) for o in args.ingest)}
        engine.index(options=IngestOptions(**overrides))
        peer = lancedb_hybrid(root, queries, Path(tmp))
        rows = []
        for name, options in ROWS:
            if args.rows and name not in args.rows:
                continue
            rows.append((name, measure(polyseek_search(engine, options), queries)))
        rows.append(("LanceDB default hybrid (RRF), same MiniLM", peer))
        title = "(1) paper titles -> abstracts (time: median query, x LanceDB's)"
        print_table(title, rows, peer["ms"])
    if not args.skip_modality:
        modality_table(papers)


if __name__ == "__main__":
    main()
