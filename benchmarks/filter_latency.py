"""Filtered against unfiltered search over 100k stored items, excluding the encoder.

A ``--where`` filter is evaluated once per (store version, filter) into a filtered view of
the store (:mod:`polyseek.search.filtered`); every query with that filter then searches
the matching rows only. This measures, in one run over the same 100k mixture vectors as
benchmarks/query_latency.py (10% of files stored as images):

  unfiltered        Engine.rank, hybrid (BM25 + dense), exact: the baseline
  filtered (warm)   the same query with a filter already evaluated, at several selectivities
  first use (cold)  the first query with a new filter: fields table (once per store
                    version), the filter's evaluation and the filtered vector view
  phrase            a quoted phrase (the items' text scanned inside LanceDB per new phrase)

    .venv/bin/python benchmarks/filter_latency.py [--n 100000] [--queries 200]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from query_latency import filled_engine, print_latencies, setup, timed  # noqa: E402

from polyseek.search.base import Query, Ranking  # noqa: E402
from polyseek.search.filtered import restrict  # noqa: E402

FILTERS = {
    "modality = 'image' (10%)": "modality = 'image'",
    "source < 'docs/file005000' (50%)": "source < 'docs/file005000'",
    "source GLOB 'docs/file000[0-4]*' (5%)": "source GLOB 'docs/file000[0-4]*'",
    "source GLOB 'docs/file00000*' (0.1%)": "source GLOB 'docs/file00000*'",
}


def main() -> None:
    args, texts, base, queries = setup()
    with tempfile.TemporaryDirectory() as tmp:
        engine = filled_engine(Path(tmp), texts, base, args.n, image_every=10)
        info = engine.encoder_infos[0]
        engine.store.maintain_indexes(min_rows=10**12)  # id index only: exact search
        engine.store.ensure_text_index()
        pairs = [(v, t.split(".")[0]) for v, t in zip(queries, texts, strict=False)]

        def rank(pair: tuple[np.ndarray, str], where: str | None = None, words: str = "") -> int:
            v, text = pair
            q = Query(text=words or text, top=10, ranking=Ranking(exact=True, where=where))
            return len(engine.rank(q, {info: v}).hits)

        rank(pairs[0])  # warm-up: full-text index, vector cache
        cold: dict[str, float] = {}
        results = {"unfiltered, hybrid, exact (baseline)": timed(rank, pairs)}
        for name, where in FILTERS.items():
            t0 = time.perf_counter()
            rank(pairs[0], where)
            cold[name] = (time.perf_counter() - t0) * 1000
            full = [rank(p, where) for p in pairs[:20]]
            results[f"where {name}"] = timed(lambda p, w=where: rank(p, w), pairs)
            print(
                f"{name}: {len(restrict(engine.store, where))} items match; top-10 full in "
                f"{sum(n == 10 for n in full)}/20 queries"
            )
        phrase = [(v, f'"{t.split()[0]} {t.split()[1]}"') for v, t in pairs[:20]]
        t0 = time.perf_counter()
        results["quoted phrase (new phrase per query)"] = timed(
            lambda p: rank((p[0], p[1]), words=p[1]), phrase
        )
        print(f"phrase queries: {time.perf_counter() - t0:.1f} s for {len(phrase)}")
    print("\nfirst query with a new filter (fields table + evaluation + view), ms:")
    for name, ms in cold.items():
        print(f"  {name:<42} {ms:8.1f}")
    print(f"\nsearch latency, top-10 over {args.n} items, encoder excluded (warm filters)")
    print_latencies(results, "unfiltered, hybrid, exact (baseline)", "query", "x unfilt.")


if __name__ == "__main__":
    main()
