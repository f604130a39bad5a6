"""Exact MaxSim over page multi-vectors: polyseek's search vs transformers' reference scoring.

N pages x R rows x D dims of unit vectors (each page a random "topic" plus noise, so scores
spread), queries of T tokens. In one run, on the same vectors:
  polyseek         ``maxsim_search`` on the in-memory view (grouping built beforehand, as a
                   warm server has it), one query at a time and in batches of B
  store            ``LanceStore.search_multivector`` on a real store holding the same rows
                   (adds the per-call table-version checks)
  transformers     ``ColPaliProcessor.score_retrieval`` (torch einsum over padded batches of
                   128 pages), then a top-k: the reference ColPali scoring
  numpy per page   a Python loop over pages, one small product each
Median ms per query (the methods alternate query by query, so the load of a shared machine
weighs on each alike), the ratio to transformers, and whether the top-10s agree.

    .venv/bin/python benchmarks/maxsim.py [--pages 10000] [--rows 64] [--queries 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from polyseek.encoders.base import EncoderInfo, l2_normalize  # noqa: E402
from polyseek.store.base import (  # noqa: E402
    Manifest,
    SourceBatch,
    SourceRecord,
    StoredItem,
    VectorView,
)
from polyseek.store.lancedb import LanceStore  # noqa: E402
from polyseek.store.maxsim import item_rows, maxsim_search  # noqa: E402
from polyseek.types import MODALITY_CODES, Locator  # noqa: E402

TOP = 10


def make_pages(pages: int, rows: int, dim: int, seed: int = 0) -> np.ndarray:
    """(pages * rows, dim) unit rows; a page's rows share a topic vector."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((pages, 1, dim)).astype(np.float32)
    noise = rng.standard_normal((pages, rows, dim)).astype(np.float32)
    return l2_normalize((topics + 1.5 * noise).reshape(-1, dim))


def make_queries(matrix: np.ndarray, rows: int, n: int, tokens: int, seed: int = 1) -> list:
    """Queries whose tokens lean towards rows of one page each."""
    rng = np.random.default_rng(seed)
    pages = len(matrix) // rows
    out = []
    for _ in range(n):
        page = int(rng.integers(pages))
        picked = matrix[page * rows + rng.integers(rows, size=tokens)]
        noise = rng.standard_normal(picked.shape).astype(np.float32)
        out.append(l2_normalize(picked + 1.2 * noise))
    return out


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn()
    return (time.perf_counter() - start) / repeat, result


def filled_store(path: Path, matrix: np.ndarray, rows: int) -> tuple[LanceStore, str]:
    info = EncoderInfo("bench-late", "late-interaction", "r", matrix.shape[1], metric="maxsim")
    store = LanceStore.create(path, Manifest((info,), str(path)))
    pages = len(matrix) // rows
    per_batch = 1000
    for first in range(0, pages, per_batch):
        batch = SourceBatch()
        ids: list[str] = []
        for p in range(first, min(pages, first + per_batch)):
            source = f"doc{p // 100:04d}.pdf"
            if not batch.records or batch.records[-1].path != source:
                batch.records.append(SourceRecord(source, "h", 1, 1, "g", "ok"))
            item = StoredItem(f"p{p:06d}", source, "g", "page", Locator(page=p % 100), "", {})
            batch.items.append(item)
            ids.extend([item.id] * rows)
        lo, hi = first * rows, min(pages, first + per_batch) * rows
        batch.vectors[info.key] = (ids, matrix[lo:hi])
        with store.writing():
            store.commit(batch)
    return store, info.key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=64, help="vectors per page")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=25, help="tokens per query")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-store", action="store_true", help="skip the LanceStore row")
    args = parser.parse_args()

    import torch
    from transformers import ColPaliProcessor

    matrix = make_pages(args.pages, args.rows, args.dim)
    ids = np.array([f"p{i:06d}" for i in range(args.pages)], dtype=object).repeat(args.rows)
    codes = np.full(len(ids), MODALITY_CODES["page"], dtype=np.int8)
    view = VectorView("bench", (0,), ids, codes, matrix)
    queries = make_queries(matrix, args.rows, args.queries, args.tokens)
    build_s, _ = timed(lambda: item_rows(view))

    passages = [torch.from_numpy(p) for p in matrix.reshape(args.pages, args.rows, args.dim)]
    passages_np = list(matrix.reshape(args.pages, args.rows, args.dim))
    # score_retrieval uses nothing of the processor instance: called unbound.
    reference = ColPaliProcessor.score_retrieval

    def theirs(q: np.ndarray) -> list[str]:
        scores = reference(None, [torch.from_numpy(q)], passages)[0]
        return [f"p{i:06d}" for i in torch.topk(scores, TOP).indices.tolist()]

    def per_page(q: np.ndarray) -> list[str]:
        scores = [float((page @ q.T).max(axis=0).sum()) for page in passages_np]
        return [f"p{i:06d}" for i in np.argsort(scores)[::-1][:TOP]]

    tmp = tempfile.TemporaryDirectory()
    store = key = None
    fill_s = 0.0
    if not args.no_store:
        t0 = time.perf_counter()
        store, key = filled_store(Path(tmp.name) / "store", matrix, args.rows)
        fill_s = time.perf_counter() - t0
        store.search_multivector(key, queries[:1], TOP)  # load the view, group the rows

    # Methods alternate query by query, so that the machine's load (shared, busy) weighs
    # on each alike.
    times: dict[str, list[float]] = {}
    agree = same = 0
    for start in range(0, len(queries), args.batch):
        chunk = queries[start : start + args.batch]
        seconds, _ = timed(lambda c=chunk: maxsim_search(view, c, TOP))
        times.setdefault("batch", []).append(seconds / len(chunk))
        for n, q in enumerate(chunk):
            seconds, ours = timed(lambda q=q: maxsim_search(view, [q], TOP)[0])
            times.setdefault("single", []).append(seconds)
            seconds, ref = timed(lambda q=q: theirs(q))
            times.setdefault("transformers", []).append(seconds)
            agree += [i for i, _ in ours] == ref  # type: ignore[attr-defined]
            if store is not None:
                seconds, got = timed(lambda q=q: store.search_multivector(key, [q], TOP)[0])
                times.setdefault("store", []).append(seconds)
                same += got == ours
            if start + n < 5:
                times.setdefault("loop", []).append(timed(lambda q=q: per_page(q))[0])
    tmp.cleanup()
    names = {
        "single": "polyseek, 1 query",
        "batch": f"polyseek, batches of {args.batch}",
        "store": "LanceStore.search_multivector",
        "transformers": "transformers score_retrieval",
        "loop": "numpy loop per page (5 queries)",
    }
    rows = [(label, statistics.median(times[k])) for k, label in names.items() if k in times]
    theirs_s = times["transformers"]
    base = statistics.median(theirs_s)
    print(
        f"{args.pages} pages x {args.rows} rows x {args.dim} dims "
        f"({matrix.nbytes / 2**20:.0f} MB), {args.queries} queries of {args.tokens} tokens, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"grouping rows by item (once per table version): {build_s * 1000:.1f} ms")
    print(f"{'method':<36} {'ms/query':>9} {'vs transformers':>16}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds * 1000:>9.1f} {seconds / base:>15.2f}x")
    print(f"top-{TOP} identical to transformers': {agree}/{len(queries)} queries")
    if store is not None:
        n = len(queries)
        print(f"store: filled in {fill_s:.1f} s; results identical to the view's: {same}/{n}")


if __name__ == "__main__":
    main()
