"""What calibration costs per query, over N stored items of two modalities.

The store is filled exactly as ``query_latency.py`` does (mixtures of real MiniLM
embeddings of the sample collection's chunks plus noise), with every second file's items
stored as images whose caption is the chunk text; the calibration statistics and probes
are then computed as ``polyseek index`` does (200 probes embedded by MiniLM). In one run,
top-10 through ``Engine.rank`` (exact search, encoder excluded):
  raw          no calibration (the baseline of the ratios)
  query        per-modality standardisation with this query's statistics
  hubness      the default: hubness correction, then per-query statistics; the first
               query after an index change also computes r(x) for every item (reported
               on its own)
  collection   index-time statistics

    .venv/bin/python benchmarks/calibration_latency.py [--n 100000] [--queries 200]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from query_latency import filled_engine, print_latencies, setup, timed  # noqa: E402

from polyseek.search.base import Query, Ranking  # noqa: E402
from polyseek.search.calibration import hubness  # noqa: E402


def main() -> None:
    args, texts, base, queries = setup()
    with tempfile.TemporaryDirectory() as tmp:
        engine = filled_engine(Path(tmp), texts, base, args.n, image_every=2)
        info = engine.encoder_infos[0]
        t0 = time.perf_counter()
        engine.collection.refresh(changed=True)
        stats_s = time.perf_counter() - t0
        engine.rank(Query(text="warm-up", ranking=Ranking(exact=True)), {info: queries[0]})
        t0 = time.perf_counter()
        hubness(engine.store, info.key)
        hub_s = time.perf_counter() - t0
        modes = [("raw (no calibration)", {})] + [
            (f"calibrated: {mode}", {"calibrate": True, "calibration": mode})
            for mode in ("query", "hubness", "collection")
        ]
        results = {}
        for name, options in modes:
            query = Query(text="q", top=10, ranking=Ranking(exact=True, **options))
            engine.rank(query, {info: queries[0]})  # caches warm
            results[name] = timed(lambda v, q=query: engine.rank(q, {info: v}), queries)
    print(
        f"\nafter indexing (full-text index, calibration statistics, probes): {stats_s:.1f} s; "
        f"hubness r(x) of {args.n} items on the first calibrated query: {hub_s * 1000:.0f} ms"
    )
    print(f"top-10 over {args.n} items (half text, half images), exact, encoder excluded")
    print_latencies(results, "raw (no calibration)", "mode", "x raw")


if __name__ == "__main__":
    main()
