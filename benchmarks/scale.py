"""Search at 1M-10M items: polyseek beside raw LanceDB and faiss on the same vectors.

    .venv/bin/python benchmarks/scale.py --n 1000000 [--queries 200] [--data /tmp/scale-1m]

Vectors are mixtures of real MiniLM embeddings (``query_latency.mixture_vectors``), written
in chunks to one float32 file under ``--data``; every system reads them from there chunk by
chunk, so the matrix is never held twice. Queries are held-out mixtures (not table rows):
a DEV set to tune each system's search parameters for recall@10 >= ``--target`` and a
TEST set, reported. Ground truth: exact top-10 by blocked matrix products over the file.

Rows, each measured in its own subprocess (peak RSS = that process's VmHWM):
  polyseek        the store built as polyseek builds it (``maintain_indexes``: the index
                  ``plan_for`` chooses), searched with ``Engine.rank`` (dense, encoder
                  excluded) at the plan's parameters, and at the tuned ones if they differ
  lancedb raw     the same table and index, raw vector queries (nprobes, refine_factor)
  faiss IVF-PQ    IVF{nlist},PQ{dim/8} with an exact (RFlat) refine of the head
  faiss HNSW      HNSW32 over the flat vectors, efSearch tuned
  rank-ratio      ``Engine.rank`` (dense, and hybrid: the default) against its raw LanceDB
                  counterpart on the same index and parameters, interleaved query by
                  query in one process (issue 12's ratio)
Builds can run concurrently (``--parallel-builds``: faster, build times inflated by the
contention); queries always run one system at a time. faiss is needed only for its rows
(``pip install faiss-cpu``, not a polyseek dependency). Results are kept under
``--data/results`` and reused on a re-run (``--fresh`` discards them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

DIM = 384
CHUNK = 50_000
K = 10
NPROBES = (10, 20, 30, 50, 80, 120, 200)
REFINES = (1, 2, 5, 10, 20)
FAISS_NPROBES = (8, 16, 32, 64, 128, 256)
FAISS_KFACTORS = (2, 5, 10, 20, 50, 100, 200)
EF_SEARCH = (16, 32, 64, 128, 256, 512, 1024, 2048)


# ------------------------------------------------------------------- shared data
def read_rows(path: Path, start: int, stop: int, dim: int = DIM) -> np.ndarray:
    """Rows ``start..stop`` of the float32 vector file (read, not mapped: page cache is
    not charged to the reader's RSS)."""
    with open(path, "rb") as f:
        f.seek(start * dim * 4)
        return np.fromfile(f, dtype=np.float32, count=(stop - start) * dim).reshape(-1, dim)


def chunks(n: int, size: int = CHUNK) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def make_data(data: Path, n: int, queries: int) -> None:
    """The vector file, DEV/TEST query sets and their exact top-10 rows."""
    if (data / "truth.npz").is_file():
        return
    from query_latency import base_vectors, mixture_vectors

    from polyseek.encoders import load_encoder

    data.mkdir(parents=True, exist_ok=True)
    enc = load_encoder("minilm")
    texts, base = base_vectors(enc)
    (data / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    np.save(data / "base.npy", base)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with open(data / "vectors.f32", "wb") as f:
        for a, b in chunks(n):
            mixture_vectors(base, a, b, rng).astype(np.float32).tofile(f)
    print(f"wrote {n} x {base.shape[1]} vectors in {time.perf_counter() - t0:.1f} s", flush=True)
    # Held-out queries: fresh mixtures of the same chunks (another random stream).
    qrng = np.random.default_rng(12345)
    qv = mixture_vectors(base, 0, 2 * queries, qrng)[qrng.permutation(2 * queries)]
    t0 = time.perf_counter()
    best_i = exact_top(data / "vectors.f32", n, qv)
    print(f"exact top-{K} of {len(qv)} queries in {time.perf_counter() - t0:.1f} s", flush=True)
    np.savez(
        data / "truth.npz",
        dev=qv[:queries],
        test=qv[queries:],
        dev_truth=best_i[:queries],
        test_truth=best_i[queries:],
    )


def exact_top(path: Path, n: int, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row numbers of each query's exact top-``k`` by inner product over the ``n`` rows of
    the vector file, one chunk at a time (ties: the lower row first)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for a, b in chunks(n):
        s = queries @ read_rows(path, a, b, queries.shape[1]).T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        cand_i = np.concatenate([best_i, top + a], axis=1)
        order = np.lexsort((cand_i, -cand_s), axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
    return best_i


def load_truth(data: Path) -> dict[str, np.ndarray]:
    with np.load(data / "truth.npz") as z:
        return {k: z[k] for k in z.files}


def row_id(j: int) -> str:
    # Imported here: the faiss workers must not import polyseek's stack (torch's OpenMP
    # beside faiss's made faiss's threads spin in sched_yield).
    from query_latency import item_of

    from polyseek.types import item_id

    return item_id(*item_of(int(j)))


def recall(found: list[list[Any]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def timed(fn: Callable[[np.ndarray], list[Any]], queries: np.ndarray) -> tuple[list[float], list]:
    fn(queries[0])  # warm-up
    ms, out = [], []
    for q in queries:
        t0 = time.perf_counter()
        out.append(fn(q))
        ms.append((time.perf_counter() - t0) * 1000)
    return ms, out


def latency(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(ms), "p95_ms": sorted(ms)[int(0.95 * (len(ms) - 1))]}


def tune(
    configs: list[Any],
    search: Callable[[Any], Callable[[np.ndarray], list[Any]]],
    dev: np.ndarray,
    dev_truth: list[list[Any]],
    target: float,
) -> tuple[Any, list[dict[str, Any]]]:
    """The fastest config (on DEV) reaching ``target`` recall, else the most accurate.

    ``configs`` are tuples (first parameter ascending, then the second) or plain values;
    for a tuple config reaching the target, larger second parameters at the same first
    one (only slower) are skipped."""
    tried: list[dict[str, Any]] = []
    done: set[Any] = set()
    for cfg in configs:
        if isinstance(cfg, tuple) and cfg[0] in done:
            continue
        ms, found = timed(search(cfg), dev)
        tried.append({"config": cfg, "recall": recall(found, dev_truth), **latency(ms)})
        print(f"  dev {cfg}: recall {tried[-1]['recall']:.3f} p50 {tried[-1]['p50_ms']:.2f} ms")
        if tried[-1]["recall"] >= target and isinstance(cfg, tuple):
            done.add(cfg[0])
    good = [t for t in tried if t["recall"] >= target]
    pick = min(good, key=lambda t: t["p50_ms"]) if good else max(tried, key=lambda t: t["recall"])
    return pick["config"], tried


def dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# ----------------------------------------------------------------------- workers
def w_polyseek_build(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    from query_latency import fill_store

    from polyseek.engine import Engine

    texts = json.loads((data / "texts.json").read_text(encoding="utf-8"))
    base = np.load(data / "base.npy")
    root = data / "collection"
    root.mkdir(exist_ok=True)
    engine = Engine.open(root, create=True)
    key = engine.encoder_infos[0].key
    t0 = time.perf_counter()
    fill_store(
        engine.store,
        key,
        texts,
        base,
        n,
        vectors=lambda a, b: read_rows(data / "vectors.f32", a, b),
    )
    fill_s = time.perf_counter() - t0
    print(f"stored {n} items in {fill_s:.1f} s", flush=True)
    t0 = time.perf_counter()
    engine.store.maintain_indexes()  # as after `polyseek index`: id index + plan_for's ANN
    index_s = time.perf_counter() - t0
    report = engine.store.ann_report().get(key, {})
    print(f"indexes built in {index_s:.1f} s: {report}", flush=True)
    return {
        "fill_s": fill_s,
        "build_s": index_s,
        "disk": engine.store.disk_bytes(),
        "plan": report,
        "store": str(engine.store.path),
    }


def vector_table_dir(data: Path) -> Path:
    found = sorted((data / "collection").rglob("v_*.lance"))
    if len(found) != 1:
        raise SystemExit(f"expected one vector table under {data / 'collection'}, got {found}")
    return found[0]


def w_lancedb_query(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    import lancedb

    tdir = vector_table_dir(data)
    table = lancedb.connect(str(tdir.parent)).open_table(tdir.name[: -len(".lance")])
    plan = json.loads((data / "results" / "polyseek-build.json").read_text())["plan"]
    t = load_truth(data)
    truth = {s: [[row_id(j) for j in r] for r in t[f"{s}_truth"]] for s in ("dev", "test")}

    def search(cfg: tuple[int, int]) -> Callable[[np.ndarray], list[Any]]:
        nprobes, refine = cfg

        def run(q: np.ndarray) -> list[Any]:
            s = table.search(q).distance_type("cosine").nprobes(nprobes).limit(K)
            if refine > 1:
                s = s.refine_factor(refine)
            return s.select(["id", "_distance"]).to_arrow().column("id").to_pylist()

        return run

    configs = [(p, r) for p in NPROBES for r in REFINES if p <= plan["num_partitions"]]
    cfg, tried = tune(configs, search, t["dev"], truth["dev"], args.target)
    out: dict[str, Any] = {"disk": dir_bytes(tdir), "tuned": list(cfg), "dev": tried}
    for name, c in (("plan", (plan["nprobes"], plan["refine_factor"])), ("tuned", cfg)):
        ms, found = timed(search(c), t["test"])
        out[name + "_test"] = {
            "config": list(c),
            "recall": recall(found, truth["test"]),
            **latency(ms),
        }
        print(f"  test {name} {c}: {out[name + '_test']}", flush=True)
    return out


def w_polyseek_query(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    from polyseek.engine import Engine
    from polyseek.search.base import Query, Ranking

    engine = Engine.open(data / "collection")
    info = engine.encoder_infos[0]
    t = load_truth(data)
    truth = [[row_id(j) for j in r] for r in t["test_truth"]]
    ranking = Ranking(lexical=False)

    def run(q: np.ndarray) -> list[Any]:
        return [h.item_id for h in engine.rank(Query(top=K, ranking=ranking), {info: q}).hits]

    ms, found = timed(run, t["test"])
    rss_after_first = peak_rss()
    return {
        "test": {"recall": recall(found, truth), **latency(ms)},
        "plan": engine.store.ann_report().get(info.key, {}),
        "rss_after_queries": rss_after_first,
    }


def w_rank_ratio(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """``Engine.rank`` over its raw LanceDB counterpart (the same index and parameters,
    the plan's), interleaved query by query in one process, the order alternating each
    round: the ratio issue 12 asks for, free of cache and load drift between processes.

    Dense: ``Engine.rank(lexical=False)`` vs a raw vector query. Hybrid (the default):
    ``Engine.rank`` with the query's words vs a raw vector query plus a raw BM25 query."""
    import lancedb

    from polyseek.engine import Engine
    from polyseek.search.base import Query, Ranking
    from polyseek.search.lexical import clean_query

    engine = Engine.open(data / "collection")
    info = engine.encoder_infos[0]
    plan = engine.store.ann_report().get(info.key, {})
    nprobes, refine = int(plan["nprobes"]), int(plan["refine_factor"])
    tdir = vector_table_dir(data)
    db = lancedb.connect(str(tdir.parent))
    table = db.open_table(tdir.name[: -len(".lance")])
    items = db.open_table("items")
    t = load_truth(data)
    texts = json.loads((data / "texts.json").read_text(encoding="utf-8"))
    queries = t["test"]
    # (quotes dropped: a quoted phrase would restrict the search to the items holding it)
    words = [texts[i % len(texts)].split(".")[0].replace('"', " ") for i in range(len(queries))]
    truth = [[row_id(j) for j in r] for r in t["test_truth"]]

    def raw(i: int, hybrid: bool) -> list[Any]:
        s = table.search(queries[i]).distance_type("cosine").nprobes(nprobes).limit(K)
        found = s.refine_factor(refine).select(["id", "_distance"]).to_arrow()
        if hybrid:
            fts = items.search(clean_query(words[i]), query_type="fts", fts_columns="text")
            fts.limit(K).select(["id", "_score"]).to_arrow()
        return found.column("id").to_pylist()

    def rank(i: int, hybrid: bool) -> list[Any]:
        q = Query(text=words[i] if hybrid else None, top=K, ranking=Ranking(lexical=hybrid))
        return [h.item_id for h in engine.rank(q, {info: queries[i]}).hits]

    out: dict[str, Any] = {"nprobes": nprobes, "refine_factor": refine}
    for hybrid in (False, True):
        mode = "hybrid" if hybrid else "dense"
        t0 = time.perf_counter()
        for _ in range(2):  # the second query of a version loads the resident vectors
            rank(0, hybrid)
        raw(0, hybrid)
        print(f"  {mode} warm-up {time.perf_counter() - t0:.1f} s", flush=True)
        ms: dict[str, list[float]] = {"raw": [], "rank": []}
        found: dict[str, list[Any]] = {"raw": [], "rank": []}
        for r in range(args.rounds):
            for i in range(len(queries)):
                order = ("raw", "rank") if (i + r) % 2 == 0 else ("rank", "raw")
                for who in order:
                    t0 = time.perf_counter()
                    got = raw(i, hybrid) if who == "raw" else rank(i, hybrid)
                    ms[who].append((time.perf_counter() - t0) * 1000)
                    if r == 0:
                        found[who].append(got)
        res = {who: {**latency(ms[who]), "recall": recall(found[who], truth)} for who in ms}
        res["ratio_p50"] = res["rank"]["p50_ms"] / res["raw"]["p50_ms"]
        out[mode] = res
        print(f"  {mode}: {res}", flush=True)
    out["rss_after_queries"] = peak_rss()
    return out


def faiss_or_exit() -> Any:
    try:
        import faiss
    except ImportError:
        raise SystemExit(
            "faiss is not installed: `pip install faiss-cpu` into this venv for the faiss rows "
            "(it is a benchmark-only dependency, not polyseek's)"
        ) from None
    return faiss


def nlist_for(n: int) -> int:
    # ~sqrt(n) lists, a power of 2 (1024 at 1M): k-means of faiss's 4*sqrt(n) lists took
    # too long on 2 shared cores; more probes make up for the larger lists.
    return 1 << max(8, round(np.log2(np.sqrt(n))))


def w_faiss_ivfpq_build(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    faiss = faiss_or_exit()
    nlist = nlist_for(n)
    index = faiss.index_factory(DIM, f"IVF{nlist},PQ{DIM // 8},RFlat", faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    train = read_rows(data / "vectors.f32", 0, min(n, 50 * nlist))
    index.train(train)
    del train
    for a, b in chunks(n):
        index.add(read_rows(data / "vectors.f32", a, b))
    build_s = time.perf_counter() - t0
    faiss.write_index(index, str(data / "faiss-ivfpq.index"))
    return {"build_s": build_s, "disk": dir_bytes(data / "faiss-ivfpq.index"), "nlist": nlist}


def w_faiss_hnsw_build(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    faiss = faiss_or_exit()
    index = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    t0 = time.perf_counter()
    for a, b in chunks(n):
        index.add(read_rows(data / "vectors.f32", a, b))
    build_s = time.perf_counter() - t0
    faiss.write_index(index, str(data / "faiss-hnsw.index"))
    return {"build_s": build_s, "disk": dir_bytes(data / "faiss-hnsw.index")}


def faiss_query(data: Path, args: argparse.Namespace, name: str, configs: list[Any]) -> dict:
    faiss = faiss_or_exit()
    index = faiss.read_index(str(data / f"faiss-{name}.index"))
    t = load_truth(data)

    def search(cfg: Any) -> Callable[[np.ndarray], list[Any]]:
        def run(q: np.ndarray) -> list[Any]:
            if name == "hnsw":
                index.hnsw.efSearch = cfg
            else:
                faiss.extract_index_ivf(index).nprobe = cfg[0]
                index.k_factor = cfg[1]
            return index.search(q[None], K)[1][0].tolist()

        return run

    cfg, tried = tune(configs, search, t["dev"], t["dev_truth"].tolist(), args.target)
    ms, found = timed(search(cfg), t["test"])
    test = {"config": cfg, "recall": recall(found, t["test_truth"].tolist()), **latency(ms)}
    print(f"  test {cfg}: {test}", flush=True)
    return {"tuned": cfg, "dev": tried, "test": test}


def w_faiss_ivfpq_query(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    configs = [(p, k) for p in FAISS_NPROBES for k in FAISS_KFACTORS]
    return faiss_query(data, args, "ivfpq", configs)


def w_faiss_hnsw_query(data: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    return faiss_query(data, args, "hnsw", list(EF_SEARCH))


WORKERS: dict[str, Callable[[Path, int, argparse.Namespace], dict[str, Any]]] = {
    "polyseek-build": w_polyseek_build,
    "faiss-ivfpq-build": w_faiss_ivfpq_build,
    "faiss-hnsw-build": w_faiss_hnsw_build,
    "lancedb-query": w_lancedb_query,
    "polyseek-query": w_polyseek_query,
    "polyseek-query-tuned": w_polyseek_query,
    "rank-ratio": w_rank_ratio,
    "faiss-ivfpq-query": w_faiss_ivfpq_query,
    "faiss-hnsw-query": w_faiss_hnsw_query,
}


# ---------------------------------------------------------------------- driver
def run_worker(name: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """``name`` in a subprocess of its own (its own peak RSS); its result, or None."""
    out = args.data / "results" / f"{name}.json"
    if out.is_file():
        return json.loads(out.read_text())
    cmd = [sys.executable, __file__, "--worker", name, "--n", str(args.n), "--data", str(args.data)]
    cmd += ["--target", str(args.target), "--rounds", str(args.rounds)]
    env = dict(os.environ)
    if name.startswith("faiss"):
        # faiss's OpenMP threads: all cores to build, one to answer one query at a time (a
        # single query runs on one thread anyway; idle threads spinning would tax it).
        env["OMP_NUM_THREADS"] = str(os.cpu_count() or 1) if name.endswith("build") else "1"
    print(f"== {name}", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, env=env)
    if rc != 0 or not out.is_file():
        print(f"== {name} failed (exit {rc}) after {time.perf_counter() - t0:.0f} s", flush=True)
        return None
    print(f"== {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(out.read_text())


def worker_main(args: argparse.Namespace) -> None:
    result = WORKERS[args.worker](args.data, args.n, args)
    result["peak_rss"] = peak_rss()
    (args.data / "results").mkdir(exist_ok=True)
    path = args.data / "results" / f"{args.worker}.json"
    path.write_text(json.dumps(result, indent=2, default=str))


def set_plan_search(data: Path, nprobes: int, refine: int) -> None:
    """Record tuned search parameters in the store's ann.json (what ``plan_for`` would
    record if it chose them; the index itself is unchanged)."""
    path = next((data / "collection").rglob("ann.json"))
    report = json.loads(path.read_text())
    for rec in report.values():
        rec["nprobes"], rec["refine_factor"] = nprobes, refine
    path.write_text(json.dumps(report, indent=2))


def gb(x: float) -> str:
    return f"{x / 1e9:.2f}"


def print_table(args: argparse.Namespace, res: dict[str, dict[str, Any] | None]) -> None:
    pb, lq = res.get("polyseek-build"), res.get("lancedb-query")
    rows: list[tuple[str, str, float | None, int | None, int | None, int | None, dict | None]] = []
    # (name, params, build s, disk, build RSS, query RSS, test result)
    if pb and lq:
        plan = pb["plan"]
        idx = f"{plan.get('index_type')} {plan.get('num_partitions')} parts"
        p0 = lq["plan_test"]["config"]
        rows.append(
            (
                "lancedb raw, plan's params",
                f"{idx}, nprobes {p0[0]} refine {p0[1]}",
                pb["build_s"],
                lq["disk"],
                None,
                lq["peak_rss"],
                lq["plan_test"],
            )
        )
        tc = lq["tuned_test"]["config"]
        if tc != p0:
            rows.append(
                (
                    "lancedb raw, tuned on DEV",
                    f"{idx}, nprobes {tc[0]} refine {tc[1]}",
                    pb["build_s"],
                    lq["disk"],
                    None,
                    lq["peak_rss"],
                    lq["tuned_test"],
                )
            )
    for key, label in (("polyseek-query", "plan's params"), ("polyseek-query-tuned", "tuned")):
        r = res.get(key)
        if pb and r:
            p = r["plan"]
            rows.append(
                (
                    f"polyseek Engine.rank, {label}",
                    f"nprobes {p.get('nprobes')} refine {p.get('refine_factor')}",
                    pb["build_s"],
                    pb["disk"],
                    pb["peak_rss"],
                    r["peak_rss"],
                    r["test"],
                )
            )
    for name, label in (("ivfpq", "faiss IVF-PQ + RFlat"), ("hnsw", "faiss HNSW32 Flat")):
        b, q = res.get(f"faiss-{name}-build"), res.get(f"faiss-{name}-query")
        if b and q:
            cfg = q["tuned"]
            params = (
                f"IVF{b['nlist']},PQ{DIM // 8}, nprobe {cfg[0]} k_factor {cfg[1]}"
                if name == "ivfpq"
                else f"efC 40, efSearch {cfg}"
            )
            rows.append(
                (label, params, b["build_s"], b["disk"], b["peak_rss"], q["peak_rss"], q["test"])
            )
    base = lq["plan_test"]["p50_ms"] if lq else None
    print(f"\n{args.n} x {DIM} MiniLM mixtures, top-{K}, TEST queries (params tuned on DEV)")
    print(
        "| system | parameters | build s | disk GB | build peak RSS GB | query peak RSS GB "
        "| p50 ms | p95 ms | recall@10 | p50 x lancedb raw |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, params, bs, disk, brss, qrss, t in rows:
        ratio = f"{t['p50_ms'] / base:.2f}" if base and t else "-"
        print(
            f"| {name} | {params} | {bs:.0f} | {gb(disk or 0)} | "
            f"{gb(brss) if brss else '-'} | {gb(qrss or 0)} | {t['p50_ms']:.2f} | "
            f"{t['p95_ms']:.2f} | {t['recall']:.3f} | {ratio} |"
        )
    if pb:
        print(
            f"\npolyseek store filled in {pb['fill_s']:.0f} s; build s = its `maintain_indexes` "
            f"(id + ANN index; plan recall measured by polyseek: "
            f"{pb['plan'].get('recall_at_10', float('nan')):.3f}). "
            "The lancedb rows share its index."
        )
    rr = res.get("rank-ratio")
    if rr:
        print(
            f"\nEngine.rank vs raw LanceDB, interleaved query by query in one process "
            f"({args.rounds} rounds, nprobes {rr['nprobes']} refine {rr['refine_factor']}; "
            "hybrid: raw = the vector query + a BM25 query)"
        )
        print("| search | raw p50 ms | Engine.rank p50 ms | x raw | raw recall | rank recall |")
        print("|---|---|---|---|---|---|")
        for mode in ("dense", "hybrid"):
            m = rr[mode]
            # hybrid's hits fuse BM25's: not comparable with the dense ground truth
            rank_recall = f"{m['rank']['recall']:.3f}" if mode == "dense" else "-"
            print(
                f"| {mode} | {m['raw']['p50_ms']:.2f} | {m['rank']['p50_ms']:.2f} | "
                f"{m['ratio_p50']:.2f} | {m['raw']['recall']:.3f} | {rank_recall} |"
            )
    missing = [k for k, v in res.items() if v is None]
    if missing:
        print(f"not measured: {', '.join(missing)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200, help="per query set (DEV and TEST)")
    ap.add_argument("--data", type=Path, default=None, help="default /tmp/polyseek-scale-<n>")
    ap.add_argument("--target", type=float, default=0.95, help="recall@10 to tune for")
    ap.add_argument("--parallel-builds", action="store_true")
    ap.add_argument(
        "--rounds", type=int, default=3, help="rounds of the interleaved rank-ratio row"
    )
    ap.add_argument("--no-faiss", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="discard earlier results under --data")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.n % 10:
        ap.error("--n must be a multiple of 10 (10 items per source file)")
    args.data = (args.data or Path(f"/tmp/polyseek-scale-{args.n}")).resolve()
    if args.worker:
        worker_main(args)
        return
    if args.fresh and args.data.exists():
        import shutil

        shutil.rmtree(args.data)
    faiss = not args.no_faiss
    if faiss:
        try:
            import faiss as _  # noqa: F401
        except ImportError:
            print("faiss is not installed (`pip install faiss-cpu`): its rows are skipped")
            faiss = False
    make_data(args.data, args.n, args.queries)
    (args.data / "results").mkdir(exist_ok=True)
    res: dict[str, dict[str, Any] | None] = {}
    builds = ["faiss-ivfpq-build", "faiss-hnsw-build"] if faiss else []

    def faiss_builds() -> None:
        for name in builds:
            res[name] = run_worker(name, args)

    if args.parallel_builds:
        side = threading.Thread(target=faiss_builds)
        side.start()
        res["polyseek-build"] = run_worker("polyseek-build", args)
        side.join()
    else:
        res["polyseek-build"] = run_worker("polyseek-build", args)
        faiss_builds()
    if res["polyseek-build"]:
        res["lancedb-query"] = run_worker("lancedb-query", args)
        res["polyseek-query"] = run_worker("polyseek-query", args)
        lq = res["lancedb-query"]
        plan = res["polyseek-build"]["plan"]
        if lq and list(lq["tuned"]) != [plan.get("nprobes"), plan.get("refine_factor")]:
            set_plan_search(args.data, *lq["tuned"])
            res["polyseek-query-tuned"] = run_worker("polyseek-query-tuned", args)
        res["rank-ratio"] = run_worker("rank-ratio", args)
    for name in ("ivfpq", "hnsw") if faiss else ():
        if res.get(f"faiss-{name}-build"):
            res[f"faiss-{name}-query"] = run_worker(f"faiss-{name}-query", args)
    print(f"load average at the end: {os.getloadavg()}")
    print_table(args, res)


if __name__ == "__main__":
    main()
