"""Query latency over 100k stored items, excluding the encoder.

Ways to answer the same top-10 query over the same vectors, in one run:
  numpy        exact search: one matrix product and argpartition, nothing else (baseline)
  lancedb      a raw LanceDB vector query on the same table, without and with an ANN index
  polyseek     Engine.rank(): search + visibility filter + item lookup + hits, exact and
               through the ANN index (the default once a table has one)
Vectors are mixtures of real MiniLM embeddings of the sample collection's chunks, plus
small noise, up to N items (random vectors would make any ANN look broken, see ENVIRONMENT).

    .venv/bin/python benchmarks/query_latency.py [--n 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.encoders.base import l2_normalize  # noqa: E402
from polyseek.engine import Engine  # noqa: E402
from polyseek.ingest import load_file  # noqa: E402
from polyseek.search.base import Query, Ranking  # noqa: E402
from polyseek.search.lexical import clean_query  # noqa: E402
from polyseek.store.base import SourceBatch, SourceRecord, StoredItem  # noqa: E402
from polyseek.store.lancedb import LanceStore  # noqa: E402
from polyseek.types import Locator, item_id  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-collection"


def base_vectors(enc, limit: int = 1000) -> tuple[list[str], np.ndarray]:
    texts = []
    for p in sorted((SAMPLE / "papers").iterdir()):
        texts += [it.text for it in load_file(p, p.name)]
        if len(texts) >= limit:
            break
    return texts, enc.embed_documents(texts)


PER_FILE = 10  # items per source file of a filled store


def source_of(f: int) -> str:
    """The path of the ``f``-th source file of a filled store."""
    return f"docs/file{f:06d}.txt"


def item_of(j: int) -> tuple[str, Locator]:
    """The source and locator of the ``j``-th item of a filled store (its id: ``item_id``)."""
    return source_of(j // PER_FILE), Locator(
        char_start=(j % PER_FILE) * 800, char_end=(j % PER_FILE) * 800 + 800
    )


def mixture_vectors(
    base: np.ndarray, start: int, stop: int, rng: np.random.Generator
) -> np.ndarray:
    """Vectors of items ``start..stop``: each mixes two real chunk embeddings plus a little
    noise (structured like a real collection, yet no two vectors are the same)."""
    rows = np.arange(start, stop) % len(base)
    other = rng.integers(0, len(base), len(rows))
    w = rng.uniform(0, 1, (len(rows), 1)).astype(np.float32)
    noise = rng.normal(scale=0.02, size=(len(rows), base.shape[1])).astype(np.float32)
    return l2_normalize(w * base[rows] + (1 - w) * base[other] + noise)


def fill_store(
    store: LanceStore,
    key: str,
    texts: list[str],
    base: np.ndarray,
    n: int,
    image_every: int = 0,
    vectors: Callable[[int, int], np.ndarray] | None = None,
) -> None:
    """``n`` items, 10 per source file; with ``image_every=k`` every k-th file's items are
    stored as images (their text a caption), for mixed-modality ranking. ``vectors(start,
    stop)`` gives the vectors of items ``start..stop`` (default: :func:`mixture_vectors`)."""
    rng = np.random.default_rng(0)
    batch_files = 2000
    for start in range(0, n, PER_FILE * batch_files):
        stop = min(n, start + PER_FILE * batch_files)
        batch = SourceBatch()
        ids = []
        for f in range(start // PER_FILE, stop // PER_FILE):
            src = source_of(f)
            batch.records.append(SourceRecord(src, "h", 1, 1, "g", "ok", n_items=PER_FILE))
            modality = "image" if image_every and f % image_every == 0 else "text"
            for j in range(f * PER_FILE, (f + 1) * PER_FILE):
                loc = item_of(j)[1]
                it = StoredItem(
                    item_id(src, loc), src, "g", modality, loc, texts[j % len(texts)], {}
                )
                batch.items.append(it)
                ids.append(it.id)
        vecs = vectors(start, stop) if vectors else mixture_vectors(base, start, stop, rng)
        batch.vectors[key] = (ids, vecs)
        store.commit(batch)


def raw_query(table, v: np.ndarray, ann: bool = False):
    q = table.search(v).distance_type("cosine").limit(10)
    if ann:
        q = q.nprobes(LanceStore.ANN_NPROBES).refine_factor(LanceStore.ANN_REFINE)
    return q.select(["id", "_distance"]).to_arrow()


def raw_text_query(table, words: str):
    """A raw LanceDB BM25 query over the items' text (the lexical half of hybrid search)."""
    q = table.search(clean_query(words), query_type="fts", fts_columns="text").limit(10)
    return q.select(["id", "_score"]).to_arrow()


def timed(fn, queries) -> list[float]:
    out = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def setup() -> tuple[argparse.Namespace, list[str], np.ndarray, np.ndarray]:
    """Command-line arguments, the base texts and vectors, and the query vectors."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    enc = load_encoder("minilm")
    texts, base = base_vectors(enc)
    queries = enc.embed_queries([f"{t.split('.')[0]}" for t in texts[: args.queries]])
    return args, texts, base, queries


def filled_engine(
    tmp: Path, texts: list[str], base: np.ndarray, n: int, image_every: int = 0
) -> Engine:
    """An engine over an empty folder in ``tmp`` whose store holds ``n`` mixture vectors."""
    root = tmp / "c"
    root.mkdir()
    engine = Engine.open(root, create=True)
    t0 = time.perf_counter()
    fill_store(engine.store, engine.encoder_infos[0].key, texts, base, n, image_every)
    print(f"stored {n} items in {time.perf_counter() - t0:.1f} s")
    return engine


def main() -> None:
    args, texts, base, queries = setup()
    with tempfile.TemporaryDirectory() as tmp:
        engine = filled_engine(Path(tmp), texts, base, args.n)
        info = engine.encoder_infos[0]
        engine.store.maintain_indexes(min_rows=10**12)  # the item-id index only, as after `index`
        table = engine.store.lance_table(info.key)
        items = engine.store.lance_table("items")
        matrix = engine.store.vectors(info.key).matrix.copy()  # warm the cache, as a server would
        # Each query vector with its own text (the first sentence of a stored text), so that
        # the default hybrid search runs BM25 on real words.
        pairs = [(v, t.split(".")[0]) for v, t in zip(queries, texts, strict=False)]

        def rank(pair: tuple[np.ndarray, str], **options: object) -> object:
            v, words = pair
            q = Query(text=words, top=10, ranking=Ranking(**options))  # type: ignore[arg-type]
            return engine.rank(q, {info: v})

        rank(pairs[0])  # warm-up: full-text index, caches
        few = pairs[: max(20, args.queries // 10)]
        results = {
            "numpy exact (matmul+argpartition)": timed(
                lambda p: np.argpartition(-(matrix @ p[0]), 10)[:10], pairs
            ),
            "lancedb raw query, no index": timed(lambda p: raw_query(table, p[0]), few),
            "lancedb raw query, no index + BM25 query": timed(
                lambda p: (raw_query(table, p[0]), raw_text_query(items, p[1])), few
            ),
            "polyseek Engine.rank, exact, dense only (the old default)": timed(
                lambda p: rank(p, exact=True, lexical=False), pairs
            ),
            "polyseek Engine.rank, exact, hybrid (default)": timed(
                lambda p: rank(p, exact=True), pairs
            ),
        }
        t0 = time.perf_counter()
        engine.store.maintain_indexes(min_rows=0)
        print(f"built the id and ANN (IVF_HNSW_SQ) indexes in {time.perf_counter() - t0:.1f} s")
        results["lancedb raw query, IVF_HNSW_SQ+refine"] = timed(
            lambda p: raw_query(table, p[0], ann=True), pairs
        )
        results["lancedb raw query, IVF_HNSW_SQ+refine + BM25 query"] = timed(
            lambda p: (raw_query(table, p[0], ann=True), raw_text_query(items, p[1])), pairs
        )
        results["polyseek Engine.rank, ANN, dense only (the old default)"] = timed(
            lambda p: rank(p, lexical=False), pairs
        )
        results["polyseek Engine.rank, ANN, hybrid (default)"] = timed(lambda p: rank(p), pairs)
        top = engine.store.search_vectors
        exact_top = [[i for i, _ in top(info.key, v[None], 10, exact=True)[0]] for v in queries]
        ann_top = [[i for i, _ in top(info.key, v[None], 10)[0]] for v in queries]
        recall = np.mean(
            [len(set(a) & set(e)) / 10 for a, e in zip(ann_top, exact_top, strict=True)]
        )
    print(f"recall@10 of the ANN path against exact search: {recall:.3f}")
    print(f"\nquery latency, top-10 over {args.n} x {base.shape[1]} vectors, encoder excluded")
    print_latencies(results, "numpy exact (matmul+argpartition)", "method", "x numpy", RAW_OF)


# Each polyseek row's raw LanceDB counterpart on the same tables (the goal: <= 1.3x).
RAW_OF = {
    "polyseek Engine.rank, exact, dense only (the old default)": "lancedb raw query, no index",
    "polyseek Engine.rank, exact, hybrid (default)": "lancedb raw query, no index + BM25 query",
    "polyseek Engine.rank, ANN, dense only (the old default)": (
        "lancedb raw query, IVF_HNSW_SQ+refine"
    ),
    "polyseek Engine.rank, ANN, hybrid (default)": (
        "lancedb raw query, IVF_HNSW_SQ+refine + BM25 query"
    ),
}


def print_latencies(
    results: dict[str, list[float]],
    baseline: str,
    what: str,
    ratio: str,
    raw_of: dict[str, str] | None = None,
) -> None:
    """Median and p95 milliseconds of each row, and its median as a ratio to ``baseline``'s
    (and, for rows ``raw_of`` names, to that row's)."""
    base_ms = statistics.median(results[baseline])
    width = max(len(what), *(len(name) for name in results)) + 2
    extra = f" {'x raw':>7}" if raw_of else ""
    print(f"{what:<{width}} {'median ms':>10} {'p95 ms':>8} {ratio:>8}{extra}")
    for name, ms in results.items():
        med = statistics.median(ms)
        p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
        raw = (raw_of or {}).get(name)
        vs = f" {med / statistics.median(results[raw]):>7.2f}" if raw in results else ""
        print(f"{name:<{width}} {med:>10.2f} {p95:>8.2f} {med / base_ms:>8.2f}{vs}")


if __name__ == "__main__":
    main()
