"""Compressed first passes (truncate / int8 / binary) + exact rescoring vs exact float32.

Over N stored items (mixtures of real MiniLM embeddings of the sample collection's
chunks plus noise, filled exactly as ``query_latency.py`` does), for each first pass and
oversample factor, in one run:
  recall@10    of the first pass + rescoring against exact float32 search, same queries
  store ms     median of ``LanceStore.search_vectors`` (top-10, one query at a time), and
               its ratio to the exact float32 path measured in the same run
  core ms      the same search on the cached matrix, without the store's per-call
               table-version checks, and its ratio to exact float32 (matmul + top-k)
  memory       bytes of the compressed copy against the float32 matrix

    .venv/bin/python benchmarks/first_pass.py [--n 100000] [--queries 200]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from query_latency import filled_engine, setup  # noqa: E402

from polyseek.store.quantized import FirstPass, first_pass_search  # noqa: E402

PASSES = [
    ("truncate:192", 10),
    ("truncate:128", 10),
    ("truncate:128", 30),
    ("truncate:64", 10),
    ("int8", 10),
    ("int8", 2),
    ("binary", 10),
    ("binary", 30),
]

BLOCK = 20


def main() -> None:
    args, texts, base, queries = setup()
    with tempfile.TemporaryDirectory() as tmp:
        engine = filled_engine(Path(tmp), texts, base, args.n)
        key = engine.encoder_infos[0].key
        store = engine.store
        cache = store.vectors(key)  # warm, as a server would be

        def search(v: np.ndarray, fp: FirstPass | None = None) -> list[tuple[str, float]]:
            return store.search_vectors(key, v[None], 10, exact=True, first_pass=fp)[0]

        passes = [FirstPass.parse(spec, oversample) for spec, oversample in PASSES]
        build_s = []
        for fp in passes:
            t0 = time.perf_counter()
            search(queries[0], fp)  # builds the compressed copy once
            build_s.append(time.perf_counter() - t0)
        # Blocks of BLOCK queries per method, methods in turn: consecutive queries of one
        # method find its data warm in the CPU caches (as a server would), and load from
        # other processes on this shared machine falls on every method alike.
        methods = [None, *passes]
        ms: list[list[float]] = [[] for _ in methods]
        core_ms: list[list[float]] = [[] for _ in methods]
        check_ms: list[float] = []
        matrix, ids = cache.matrix, cache.ids
        found: list[list[set[str]]] = [[] for _ in methods]
        for start in range(0, len(queries), BLOCK):
            for m, fp in enumerate(methods):
                for v in queries[start : start + BLOCK]:
                    t0 = time.perf_counter()
                    hits = search(v, fp)
                    ms[m].append((time.perf_counter() - t0) * 1000)
                    found[m].append({i for i, _ in hits})
                    # the same work on the cached matrix, without the store's per-call checks
                    t0 = time.perf_counter()
                    if fp is None:
                        row = (v[None] @ matrix.T)[0]
                        top = np.argpartition(-row, 9)[:10]
                        [(str(ids[i]), float(row[i])) for i in top[np.argsort(-row[top])]]
                    else:
                        first_pass_search(fp, matrix, ids, v[None], 10, None, cache.compressed)
                    core_ms[m].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                store.vectors(key)  # what every search pays first: are the tables current?
                check_ms.append((time.perf_counter() - t0) * 1000)
        exact_ms, exact_top = ms[0], found[0]
        rows = []
        for m, fp in enumerate(passes, start=1):
            pairs = zip(found[m], exact_top, strict=True)
            recall = float(np.mean([len(f & e) / 10 for f, e in pairs]))
            nbytes = cache.compressed[fp.spec].nbytes
            rows.append((fp.spec, fp.oversample, recall, ms[m], core_ms[m], nbytes, build_s[m - 1]))
    base_ms = statistics.median(exact_ms)
    base_core = statistics.median(core_ms[0])
    full = cache.matrix.nbytes
    print(
        f"\ntop-10 over {args.n} x {base.shape[1]} MiniLM-mixture vectors, {len(queries)} "
        "queries, one at a time; exact float32 rescoring of top-10 x oversample"
    )
    print(
        f"{'first pass':<14} {'oversample':>10} {'recall@10':>10} {'store ms':>9} {'x exact':>8}"
        f" {'core ms':>8} {'x exact':>8} {'memory':>7} {'build s':>8}"
    )
    table = [("none (exact)", "-", 1.0, exact_ms, core_ms[0], full, float("nan")), *rows]
    for spec, oversample, recall, ms_, core, nbytes, build in table:
        med, cmed = statistics.median(ms_), statistics.median(core)
        print(
            f"{spec:<14} {oversample:>10} {recall:>10.3f} {med:>9.2f} {med / base_ms:>8.2f}"
            f" {cmed:>8.2f} {cmed / base_core:>8.2f} {nbytes / full:>7.3f} {build:>8.2f}"
        )
    check = statistics.median(check_ms)
    print(
        "store ms: LanceStore.search_vectors; core ms: the same search on the cached matrix\n"
        f"without the store's per-call table-version checks (median {check:.2f} ms here);\n"
        "memory: first-pass copy / float32 matrix (which is kept for rescoring)"
    )


if __name__ == "__main__":
    main()
