"""Many concurrent Lance fragment writers, one group-committing committer (issue 11).

``--writers`` processes each write Lance data fragments of rows shaped like polyseek's
vector table (:func:`polyseek.store.lancedb.vector_schema`: id, source, gen, modality,
part, a 384-d float32 vector) with ``lance.fragment.write_fragments`` and send the
fragments' metadata (JSON) over a queue to ONE committer. The committer takes whatever
is waiting (group commit), appends it with one ``LanceOperation.Append`` commit, then
makes it visible as polyseek does: one ``merge_insert`` of the batch's source records
into a small sources table (the commit point). Optionally a compactor process runs
``optimize.compact_files()`` concurrently with the appends.

Measured per run: rows/s (from the moment every process is up), commits/s, fragments
and rows per commit, commit latency (append + sources merge) p50/p95, the time from a
fragment written to visible p50/p95, versions, the time to open the latest version and
count its rows (after the first commit and after the last), the files Lance wrote, and
on the S3 target the requests the object store served (a counting shim in front of
moto's server), turned into an S3 request-cost estimate per 1M rows.

Every run checks its invariants: every fragment written committed exactly once, the
final row count = rows written, no duplicate id, one source record per source.

    nice -n 5 .venv/bin/python benchmarks/fragment_writers.py [--no-s3] [--quick]

Needs ``pylance`` (the ``dev`` extra) and, for the S3 target, ``moto[server]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("fragment_writers")

DIM = 384
ROWS_PER_SOURCE = 50  # vector rows a source (file) contributes: a PDF's passages, say
# S3 standard request prices (us-east-1): PUT/COPY/POST/LIST per 1000, GET/HEAD per 1000.
PRICE_CLASS_A = 0.005 / 1000
PRICE_CLASS_B = 0.0004 / 1000
SPAWN = mp.get_context("spawn")  # Lance's runtime threads do not survive a fork


# ---------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Target:
    """Where the datasets go: a local folder or an ``s3://bucket/prefix``."""

    root: str
    options: dict[str, str] = field(default_factory=dict)
    counter_url: str | None = None  # the counting S3 server, when there is one

    @property
    def name(self) -> str:
        return "s3 (moto)" if self.root.startswith("s3://") else "local disk"

    def uri(self, run: str, table: str) -> str:
        return f"{self.root.rstrip('/')}/{run}/{table}.lance"


@dataclass(frozen=True)
class RunConfig:
    writers: int
    fragments: int  # in all, dealt round-robin to the writers
    rows_per_fragment: int
    compact: bool = False  # a compactor process concurrently with the appends
    compact_target_rows: int = 64_000
    compact_min_fragments: int = 16  # compact once this many fragments are below target
    writer_pause_s: float = 0.0  # between two fragments of a writer (tests: force overlap)
    max_group: int = 0  # most fragments in one commit (0: whatever is waiting)
    dim: int = DIM

    @property
    def rows(self) -> int:
        return self.fragments * self.rows_per_fragment

    def keys(self, writer: int) -> range:
        return range(writer, self.fragments, self.writers)


def row_id(fragment: int, row: int) -> str:
    return f"f{fragment:07d}-{row:06d}"


def source_path(fragment: int, row: int) -> str:
    return f"src/f{fragment:07d}/{row // ROWS_PER_SOURCE:05d}"


# ---------------------------------------------------------------- results
@dataclass
class RunResult:
    config: RunConfig
    target: str
    uri: str
    seconds: float = 0.0
    rows_written: int = 0
    committed: Counter[int] = field(default_factory=Counter)  # fragment key -> times committed
    commit_s: list[float] = field(default_factory=list)  # append + sources merge
    append_s: list[float] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # fragments per commit
    group_rows: list[int] = field(default_factory=list)
    wait_s: list[float] = field(default_factory=list)  # fragment written -> visible
    write_s: list[float] = field(default_factory=list)  # one write_fragments call
    rebased: int = 0  # appends that landed on a version committed meanwhile (compaction)
    compactions: list[dict[str, Any]] = field(default_factory=list)
    compaction_errors: list[str] = field(default_factory=list)
    open_count_first_s: float = 0.0
    open_count_last_s: float = 0.0
    versions: int = 0
    fragments_end: int = 0
    final_rows: int = 0
    distinct_ids: int = 0
    sources: int = 0
    files: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # "PUT data" -> n
    open_requests: Counter[str] = field(default_factory=Counter)

    @property
    def commits(self) -> int:
        return len(self.commit_s)

    def problems(self) -> list[str]:
        """The invariants a correct run keeps; empty when all hold."""
        cfg, out = self.config, []
        twice = sorted(k for k, n in self.committed.items() if n != 1)
        if twice:
            out.append(f"fragments committed more than once: {twice[:5]}")
        missing = sorted(set(range(cfg.fragments)) - set(self.committed))
        if missing:
            out.append(f"fragments never committed: {missing[:5]}")
        if self.rows_written != cfg.rows:
            out.append(f"writers reported {self.rows_written} rows, expected {cfg.rows}")
        if self.final_rows != self.rows_written:
            out.append(f"dataset holds {self.final_rows} rows, {self.rows_written} written")
        if self.distinct_ids != self.final_rows:
            out.append(f"{self.final_rows - self.distinct_ids} duplicate ids")
        want_sources = cfg.fragments * -(-cfg.rows_per_fragment // ROWS_PER_SOURCE)
        if self.sources != want_sources:
            out.append(f"{self.sources} source records, expected {want_sources}")
        out.extend(f"compaction failed: {e}" for e in self.compaction_errors)
        return out


# ---------------------------------------------------------------- worker processes
def _fragment_table(cfg: RunConfig, schema: Any, key: int, vectors: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    n = cfg.rows_per_fragment
    return pa.table(
        {
            "id": [row_id(key, i) for i in range(n)],
            "source": [source_path(key, i) for i in range(n)],
            "gen": [f"g{key:07d}"] * n,
            "modality": ["text"] * n,
            "part": pa.array(np.arange(n, dtype=np.int32) % ROWS_PER_SOURCE),
            "vector": vectors,
        },
        schema=schema,
    )


def _writer(
    writer: int,
    cfg: RunConfig,
    uri: str,
    options: dict[str, str],
    schema: Any,
    out: Any,
    start: Any,
) -> None:
    """Write this writer's fragments; send each one's metadata as JSON, then ``done``."""
    try:
        import lance
        import numpy as np
        import pyarrow as pa

        rng = np.random.default_rng(writer)
        # One block of random vectors per writer, reused: vector values do not change
        # what a write costs (float32 does not compress), and drawing them would.
        block = rng.standard_normal((cfg.rows_per_fragment, cfg.dim), dtype=np.float32)
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(block.ravel()), cfg.dim)
        start.wait()
        for key in cfg.keys(writer):
            table = _fragment_table(cfg, schema, key, vectors)
            t0 = time.monotonic()
            frags = lance.fragment.write_fragments(
                table,
                uri,
                schema=schema,
                storage_options=options or None,
                max_rows_per_file=max(cfg.rows_per_fragment, 1024),
            )
            done = time.monotonic()
            out.put(
                {
                    "key": key,
                    "rows": table.num_rows,
                    "written": done,
                    "write_s": done - t0,
                    "fragments": [json.dumps(f.to_json()) for f in frags],
                }
            )
            if cfg.writer_pause_s:
                time.sleep(cfg.writer_pause_s)
        out.put({"done": writer})
    except BaseException:  # noqa: B036 - reported to the committer, which raises
        out.put({"error": f"writer {writer}: {traceback.format_exc()}"})


def _compactor(
    cfg: RunConfig, uri: str, options: dict[str, str], out: Any, start: Any, stop: Any
) -> None:
    """Compact whenever enough small fragments have piled up, until told to stop."""
    events: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        import lance

        start.wait()
        while not stop.is_set():
            ds = lance.dataset(uri, storage_options=options or None)
            small = [f for f in ds.get_fragments() if f.count_rows() < cfg.compact_target_rows]
            if len(small) < cfg.compact_min_fragments:
                stop.wait(0.05)
                continue
            before = ds.version
            t0 = time.monotonic()
            try:
                m = ds.optimize.compact_files(
                    target_rows_per_fragment=cfg.compact_target_rows, num_threads=1
                )
            except Exception as exc:  # a conflict would show here
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            events.append(
                {
                    "seconds": time.monotonic() - t0,
                    "removed": m.fragments_removed,
                    "added": m.fragments_added,
                    "read_version": before,
                    "version": lance.dataset(uri, storage_options=options or None).version,
                }
            )
    except BaseException:  # noqa: B036 - reported to the committer
        errors.append(traceback.format_exc())
    out.put({"compactions": events, "errors": errors})


# ---------------------------------------------------------------- the committer
def _source_rows(schema: Any, keys: Sequence[tuple[int, int]], gen: str) -> Any:
    """One source record per source of the fragments ``(key, rows)``."""
    import pyarrow as pa

    paths = [source_path(k, r) for k, rows in keys for r in range(0, rows, ROWS_PER_SOURCE)]
    n = len(paths)
    return pa.table(
        {
            "path": paths,
            "content_hash": [""] * n,
            "size": [0] * n,
            "mtime_ns": [0] * n,
            "gen": [gen] * n,
            "status": ["ok"] * n,
            "error": [""] * n,
            "n_items": [ROWS_PER_SOURCE] * n,
            "indexed_at": [time.time()] * n,
        },
        schema=schema,
    )


def open_count(uri: str, options: dict[str, str], repeat: int = 3) -> float:
    """Median seconds to open the latest version (a fresh dataset object) and count rows."""
    import lance

    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        # A fresh session: no metadata cached by an earlier open in this process.
        lance.dataset(uri, storage_options=options or None, session=lance.Session()).count_rows()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(cfg: RunConfig, target: Target, name: str) -> RunResult:
    """One simulation: writers, committer (this process), optional compactor."""
    import lance
    import pyarrow.compute as pc

    from polyseek.store.lancedb import SOURCES_SCHEMA, vector_schema

    schema = vector_schema(cfg.dim)
    opts = target.options
    uri, src_uri = target.uri(name, "vectors"), target.uri(name, "sources")
    res = RunResult(cfg, target.name, uri)
    ds = lance.write_dataset(schema.empty_table(), uri, schema=schema, storage_options=opts or None)
    sources = lance.write_dataset(
        SOURCES_SCHEMA.empty_table(), src_uri, schema=SOURCES_SCHEMA, storage_options=opts or None
    )
    version = ds.version

    fragments_q, compactor_q = SPAWN.Queue(), SPAWN.Queue()
    start = SPAWN.Barrier(cfg.writers + 1 + int(cfg.compact))
    stop = SPAWN.Event()
    procs = [
        SPAWN.Process(
            target=_writer, args=(w, cfg, uri, opts, schema, fragments_q, start), daemon=True
        )
        for w in range(cfg.writers)
    ]
    if cfg.compact:
        procs.append(
            SPAWN.Process(
                target=_compactor, args=(cfg, uri, opts, compactor_q, start, stop), daemon=True
            )
        )
    for p in procs:
        p.start()
    try:
        start.wait(timeout=300)  # every process has imported Lance: the clock starts
        _reset_requests(target)
        t_start = time.monotonic()
        done = 0
        while done < cfg.writers:
            batch = [fragments_q.get(timeout=600)]
            while not cfg.max_group or len(batch) < cfg.max_group:
                try:
                    batch.append(fragments_q.get_nowait())
                except queue.Empty:
                    break
            for msg in batch:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
            done += sum("done" in m for m in batch)
            batch = [m for m in batch if "key" in m]
            if not batch:
                continue
            frags = [
                lance.fragment.FragmentMetadata.from_json(j) for m in batch for j in m["fragments"]
            ]
            t0 = time.monotonic()
            ds = lance.LanceDataset.commit(
                uri,
                lance.LanceOperation.Append(frags),
                read_version=version,
                storage_options=opts or None,
            )
            t1 = time.monotonic()
            res.rebased += ds.version != version + 1
            version = ds.version
            gen = f"c{len(res.commit_s):06d}"
            records = _source_rows(SOURCES_SCHEMA, [(m["key"], m["rows"]) for m in batch], gen)
            merge = sources.merge_insert("path").when_matched_update_all()
            merge.when_not_matched_insert_all().execute(records)
            t2 = time.monotonic()
            res.append_s.append(t1 - t0)
            res.commit_s.append(t2 - t0)
            res.group.append(len(batch))
            res.group_rows.append(sum(m["rows"] for m in batch))
            for m in batch:
                res.committed[m["key"]] += 1
                res.rows_written += m["rows"]
                res.wait_s.append(t2 - m["written"])
                res.write_s.append(m["write_s"])
            if len(res.commit_s) == 1:
                res.open_count_first_s = open_count(uri, opts, repeat=1)
        res.seconds = time.monotonic() - t_start
        stop.set()
        if cfg.compact:
            report = compactor_q.get(timeout=600)
            res.compactions, res.compaction_errors = report["compactions"], report["errors"]
        res.requests = _read_requests(target)
        for p in procs:
            p.join(timeout=60)
    finally:
        stop.set()
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()

    final = lance.dataset(uri, storage_options=opts or None)
    res.versions = len(final.versions())
    res.fragments_end = len(final.get_fragments())
    res.final_rows = final.count_rows()
    res.distinct_ids = pc.count_distinct(final.to_table(columns=["id"]).column("id")).as_py()
    res.sources = lance.dataset(src_uri, storage_options=opts or None).count_rows()
    _reset_requests(target)
    res.open_count_last_s = open_count(uri, opts, repeat=1)
    res.open_requests = _read_requests(target)
    res.open_count_last_s = min(res.open_count_last_s, open_count(uri, opts, repeat=2))
    res.files = _file_kinds(target, uri)
    return res


@dataclass
class ManifestCost:
    target: str
    fragments: int
    manifest_bytes: int
    open_count_s: float
    open_requests: Counter[str]


def manifest_cost(target: Target, name: str, fragments: int, rows_each: int = 10) -> ManifestCost:
    """Open + count of a dataset of ``fragments`` tiny fragments in one version: what
    the latest manifest's size (one entry per fragment) costs a reader."""
    import lance
    import numpy as np
    import pyarrow as pa

    from polyseek.store.lancedb import vector_schema

    schema, n = vector_schema(DIM), fragments * rows_each
    table = _fragment_table(
        RunConfig(1, 1, n),
        schema,
        0,
        pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(n * DIM, np.float32)), DIM),
    )
    uri, opts = target.uri(name, "vectors"), target.options
    ds = lance.write_dataset(
        table,
        uri,
        schema=schema,
        max_rows_per_file=rows_each,
        max_rows_per_group=rows_each,
        storage_options=opts or None,
    )
    assert len(ds.get_fragments()) == fragments, len(ds.get_fragments())
    _reset_requests(target)
    open_count(uri, opts, repeat=1)
    requests = _read_requests(target)
    seconds = open_count(uri, opts, repeat=3)
    sizes = [size for path, size in _listing(target, uri) if _kind(path) == "manifest"]
    return ManifestCost(target.name, fragments, max(sizes), seconds, requests)


@dataclass
class VersionCost:
    target: str
    versions: int
    open_count_s: float
    open_requests: Counter[str]


def version_cost(target: Target, name: str, commits: int) -> VersionCost:
    """Open + count of the latest version after ``commits`` commits (empty appends: only
    the number of versions differs)."""
    import lance

    from polyseek.store.lancedb import vector_schema

    schema, uri, opts = vector_schema(DIM), target.uri(name, "vectors"), target.options
    ds = lance.write_dataset(schema.empty_table(), uri, schema=schema, storage_options=opts or None)
    for _ in range(commits):
        op = lance.LanceOperation.Append([])
        ds = lance.LanceDataset.commit(
            uri, op, read_version=ds.version, storage_options=opts or None
        )
    _reset_requests(target)
    open_count(uri, opts, repeat=1)
    requests = _read_requests(target)
    return VersionCost(target.name, ds.version, open_count(uri, opts, repeat=3), requests)


# ---------------------------------------------------------------- files and requests
def _kind(path: str) -> str:
    """A file's kind: ``data``, ``manifest``, ``txn``...; ``sources:`` before the sources
    table's files."""
    table = "sources:" if "/sources.lance/" in path else ""
    for part, kind in (
        ("/_versions/", "manifest"),
        ("/_transactions/", "txn"),
        ("/data/", "data"),
        ("/_deletions/", "deletion"),
        ("/_indices/", "index"),
    ):
        if part in path:
            return table + kind
    return table + "other"


def _listing(target: Target, uri: str) -> list[tuple[str, int]]:
    """(path under the dataset, bytes) of every file of the dataset at ``uri``."""
    if not uri.startswith("s3://"):
        root = Path(uri)
        return [
            ("/" + str(p.relative_to(root)), p.stat().st_size)
            for p in root.rglob("*")
            if p.is_file()
        ]
    from polyseek.store.uri import StoreLocation

    return [("/" + k, n) for k, n in StoreLocation.parse(uri, target.options).listing()]


def _file_kinds(target: Target, uri: str) -> Counter[str]:
    return Counter(_kind(path) for path, _ in _listing(target, uri))


def _serve_s3(port_out: Any) -> None:
    """moto's S3 app behind a shim that counts requests by operation and file kind."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path.startswith("/_sim/"):
            with lock:
                body = json.dumps(counts).encode()
                if path == "/_sim/reset":
                    counts.clear()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        query = environ.get("QUERY_STRING", "")
        op, kind = method, _kind(path)
        if method == "GET" and ("list-type" in query or path.rstrip("/").count("/") <= 1):
            prefix = urllib.parse.parse_qs(query).get("prefix", [""])[0]
            op, kind = "LIST", _kind("/" + prefix)
        with lock:
            counts[f"{op} {kind}"] += 1
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    port_out.put(server.port)
    server.serve_forever()


@contextmanager
def s3_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with request counting; yields its endpoint."""
    port_q = SPAWN.Queue()
    proc = SPAWN.Process(target=_serve_s3, args=(port_q,), daemon=True)
    proc.start()
    try:
        endpoint = f"http://127.0.0.1:{port_q.get(timeout=120)}"
        yield endpoint
    finally:
        proc.kill()
        proc.join()


def s3_target(endpoint: str, bucket: str) -> Target:
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    options = {
        "endpoint": endpoint,
        "region": "us-east-1",
        "allow_http": "true",
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    return Target(f"s3://{bucket}/sim", options, counter_url=endpoint)


def _counter_call(target: Target, what: str) -> Counter[str]:
    if not target.counter_url:
        return Counter()
    with urllib.request.urlopen(f"{target.counter_url}/_sim/{what}", timeout=30) as r:
        return Counter(json.loads(r.read()))


def _reset_requests(target: Target) -> None:
    _counter_call(target, "reset")


def _read_requests(target: Target) -> Counter[str]:
    return _counter_call(target, "counts")


def request_classes(requests: Counter[str]) -> tuple[int, int]:
    """(class A: PUT/POST/LIST/COPY, class B: GET/HEAD) request counts; DELETE is free."""
    a = sum(n for k, n in requests.items() if k.split()[0] in ("PUT", "POST", "LIST", "COPY"))
    b = sum(n for k, n in requests.items() if k.split()[0] in ("GET", "HEAD"))
    return a, b


# ---------------------------------------------------------------- tables
def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def _ms(values: Sequence[float], q: float) -> str:
    return f"{1000 * _pct(values, q):.0f}"


def throughput_table(results: Sequence[RunResult], base: RunResult) -> str:
    head = (
        "| target | writers | rows/frag | compactor | rows | s | rows/s | x base | commits "
        "| commits/s | frags/commit mean (max) | rows/commit mean | commit p50 / p95 ms "
        "| write p50 ms | written->visible p50 / p95 ms | ok |\n" + "|---" * 16 + "|"
    )
    lines = [head]
    for r in results:
        c = r.config
        rate = r.rows_written / r.seconds
        lines.append(
            f"| {r.target} | {c.writers} | {c.rows_per_fragment:,} | {_yn(c.compact)} "
            f"| {r.rows_written:,} | {r.seconds:.1f} | {rate:,.0f} "
            f"| {rate / (base.rows_written / base.seconds):.2f}x | {r.commits} "
            f"| {r.commits / r.seconds:.1f} | {statistics.mean(r.group):.1f} ({max(r.group)}) "
            f"| {statistics.mean(r.group_rows):,.0f} "
            f"| {_ms(r.commit_s, 0.5)} / {_ms(r.commit_s, 0.95)} | {_ms(r.write_s, 0.5)} "
            f"| {_ms(r.wait_s, 0.5)} / {_ms(r.wait_s, 0.95)} "
            f"| {'yes' if not r.problems() else 'NO: ' + '; '.join(r.problems())} |"
        )
    return "\n".join(lines)


def files_table(results: Sequence[RunResult]) -> str:
    lines = [
        "| target | writers | rows/frag | compactor | commits | versions | fragments at end "
        "| data files | manifests | txn files | open+count after 1st / last commit ms |\n"
        + "|---" * 11
        + "|"
    ]
    for r in results:
        c = r.config
        lines.append(
            f"| {r.target} | {c.writers} | {c.rows_per_fragment:,} | {_yn(c.compact)} "
            f"| {r.commits} | {r.versions} | {r.fragments_end} | {r.files['data']} "
            f"| {r.files['manifest']} | {r.files['txn']} "
            f"| {1000 * r.open_count_first_s:.1f} / {1000 * r.open_count_last_s:.1f} |"
        )
    return "\n".join(lines)


def requests_table(results: Sequence[RunResult]) -> str:
    lines = [
        "| writers | rows/frag | compactor | commits | requests (by op and file kind) "
        "| class A / B per commit | class A / B per 1M rows | est. S3 $ per 1M rows "
        "| open+count requests |\n" + "|---" * 9 + "|"
    ]
    for r in results:
        c = r.config
        a, b = request_classes(r.requests)
        scale = 1e6 / r.rows_written
        cost = scale * (a * PRICE_CLASS_A + b * PRICE_CLASS_B)
        ops = ", ".join(f"{k} {n}" for k, n in sorted(r.requests.items()) if n)
        oa, ob = request_classes(r.open_requests)
        lines.append(
            f"| {c.writers} | {c.rows_per_fragment:,} | {'yes' if c.compact else 'no'} "
            f"| {r.commits} | {ops} | {a / r.commits:.1f} / {b / r.commits:.1f} "
            f"| {a * scale:,.0f} / {b * scale:,.0f} | ${cost:.4f} | {oa} A + {ob} B |"
        )
    return "\n".join(lines)


def compaction_table(results: Sequence[RunResult]) -> str:
    lines = [
        "| target | compactions | fragments removed / added | compaction p50 s "
        "| appends rebased over a compaction | failed compactions | rows / distinct ids at end "
        "|\n" + "|---" * 7 + "|"
    ]
    for r in results:
        if not r.config.compact:
            continue
        removed = sum(e["removed"] for e in r.compactions)
        added = sum(e["added"] for e in r.compactions)
        secs = [e["seconds"] for e in r.compactions]
        lines.append(
            f"| {r.target} | {len(r.compactions)} | {removed} / {added} "
            f"| {_pct(secs, 0.5):.2f} | {r.rebased} of {r.commits} "
            f"| {len(r.compaction_errors)} | {r.final_rows:,} / {r.distinct_ids:,} |"
        )
    return "\n".join(lines)


def _smallest_by_target(costs: Sequence[Any], size: Callable[[Any], int]) -> dict[str, Any]:
    """Each target's row of the smallest size: the baseline of its ratios."""
    base: dict[str, Any] = {}
    for c in sorted(costs, key=size):
        base.setdefault(c.target, c)
    return base


def _open_requests(requests: Counter[str]) -> str:
    oa, ob = request_classes(requests)
    return f"{oa} A + {ob} B" if requests else "-"


def manifest_table(costs: Sequence[ManifestCost]) -> str:
    lines = [
        "| target | fragments | latest manifest bytes | bytes per fragment | open+count ms "
        "| x 100 fragments | requests of one open+count |\n" + "|---" * 7 + "|"
    ]
    base = _smallest_by_target(costs, lambda c: c.fragments)
    for c in costs:
        reqs = _open_requests(c.open_requests)
        lines.append(
            f"| {c.target} | {c.fragments:,} | {c.manifest_bytes:,} "
            f"| {c.manifest_bytes / c.fragments:.0f} | {1000 * c.open_count_s:.1f} "
            f"| {c.open_count_s / base[c.target].open_count_s:.1f}x | {reqs} |"
        )
    return "\n".join(lines)


def version_table(costs: Sequence[VersionCost]) -> str:
    lines = [
        "| target | versions | open+count ms | x fewest versions | requests of one open+count "
        "|\n" + "|---" * 5 + "|"
    ]
    base = _smallest_by_target(costs, lambda c: c.versions)
    for c in costs:
        reqs = _open_requests(c.open_requests)
        lines.append(
            f"| {c.target} | {c.versions:,} | {1000 * c.open_count_s:.1f} "
            f"| {c.open_count_s / base[c.target].open_count_s:.2f}x | {reqs} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main
def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=_ints, default=[1, 2, 4, 8, 16])
    ap.add_argument("--rows-per-fragment", type=int, default=10_000)
    ap.add_argument("--fragments", type=int, default=64, help="per writer-count run, in all")
    ap.add_argument("--sizes", type=_ints, default=[1_000, 10_000, 100_000])
    ap.add_argument("--size-rows", type=int, default=800_000, help="rows of each size run")
    ap.add_argument("--size-writers", type=int, default=4)
    ap.add_argument("--compact-fragments", type=int, default=600, help="1k-row fragments")
    ap.add_argument("--s3-writers", type=_ints, default=[1, 4, 16])
    ap.add_argument("--s3-fragments", type=int, default=32)
    ap.add_argument("--s3-size-rows", type=int, default=200_000)
    ap.add_argument("--s3-compact-fragments", type=int, default=200)
    ap.add_argument("--manifest-fragments", type=_ints, default=[100, 1_000, 10_000])
    ap.add_argument("--s3-manifest-fragments", type=_ints, default=[100, 1_000])
    ap.add_argument("--versions", type=_ints, default=[10, 1_100])
    ap.add_argument("--s3-versions", type=_ints, default=[10, 300])
    ap.add_argument("--no-s3", action="store_true")
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--scratch", type=Path, default=None, help="local datasets (default: /tmp)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.quick:
        args.writers, args.fragments, args.rows_per_fragment = [1, 4], 16, 1000
        args.sizes, args.size_rows, args.compact_fragments = [1_000, 10_000], 40_000, 60
        args.s3_writers, args.s3_fragments = [1, 4], 8
        args.s3_size_rows, args.s3_compact_fragments = 20_000, 40
        args.manifest_fragments, args.s3_manifest_fragments = [100, 300], [100, 300]
        args.versions, args.s3_versions = [5, 50], [5, 50]

    scratch = Path(tempfile.mkdtemp(prefix="fragment-writers-", dir=args.scratch))
    load0 = os.getloadavg()
    t_all = time.monotonic()
    local = Target(str(scratch))
    results: dict[str, list[RunResult]] = {}
    manifests: list[ManifestCost] = []
    versions: list[VersionCost] = []

    def go(group: str, cfg: RunConfig, target: Target) -> RunResult:
        name = f"{group}-{len(results.get(group, []))}"
        log.info("%s on %s: %s", name, target.name, cfg)
        r = run(cfg, target, name)
        results.setdefault(group, []).append(r)
        log.info(
            "%s: %d rows in %.1f s, %d commits (p95 %s ms), %d compactions, problems: %s",
            name, r.rows_written, r.seconds, r.commits, _ms(r.commit_s, 0.95),
            len(r.compactions), r.problems() or "none",
        )  # fmt: skip
        if target.root == local.root:
            shutil.rmtree(Path(target.root) / name, ignore_errors=True)
        return r

    def measure(what: str, fn: Any, target: Target, n: int) -> Any:
        t0 = time.monotonic()
        cost = fn(target, f"{what}-{n}", n)
        log.info("%s %d on %s: %.1f s", what, n, target.name, time.monotonic() - t0)
        return cost

    try:
        if not args.no_local:
            for n in args.writers:
                go("writers", RunConfig(n, args.fragments, args.rows_per_fragment), local)
            for size in args.sizes:
                go("sizes", RunConfig(args.size_writers, args.size_rows // size, size), local)
            for compact in (False, True):
                go("compact", RunConfig(4, args.compact_fragments, 1000, compact=compact), local)
            manifests += [
                measure("manifest", manifest_cost, local, n) for n in args.manifest_fragments
            ]
            versions += [measure("versions", version_cost, local, n) for n in args.versions]
        if not args.no_s3:
            with s3_server() as endpoint:
                # A bucket for each run: moto lists a prefix by scanning its whole bucket.
                def s3() -> Target:
                    return s3_target(endpoint, f"sim{time.time_ns()}")

                for n in args.s3_writers:
                    go("s3", RunConfig(n, args.s3_fragments, args.rows_per_fragment), s3())
                for size in args.sizes:
                    go("s3", RunConfig(2, max(2, args.s3_size_rows // size), size), s3())
                for compact in (False, True):
                    cfg = RunConfig(4, args.s3_compact_fragments, 1000, compact=compact)
                    go("s3compact", cfg, s3())
                for n in args.s3_manifest_fragments:
                    manifests.append(measure("manifest", manifest_cost, s3(), n))
                for n in args.s3_versions:
                    versions.append(measure("versions", version_cost, s3(), n))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    out = [
        f"fragment writers: {time.monotonic() - t_all:.0f} s in all; {os.cpu_count()} CPUs; "
        f"load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f}\n",
    ]
    if "writers" in results:
        out += [
            "### Writers (local disk; x base: against 1 writer)\n",
            throughput_table(results["writers"], results["writers"][0]),
            "\n### Fragment size (local disk; x base: against the first size)\n",
            throughput_table(results["sizes"], results["sizes"][0]),
            "\n### Compaction concurrent with appends (local disk; x base: no compactor)\n",
            throughput_table(results["compact"], results["compact"][0]),
            "",
            compaction_table(results["compact"]),
        ]
    if "s3" in results:
        s3_all = results["s3"] + results["s3compact"]
        out += [
            "\n### S3 (moto on 127.0.0.1; x base: 1 writer)\n",
            throughput_table(s3_all, results["s3"][0]),
            "",
            compaction_table(results["s3compact"]),
            "\n### Object-store requests (S3 prices: A $0.005, B $0.0004 per 1000)\n",
            requests_table(s3_all),
        ]
    out += ["\n### Files and the cost of opening the latest version\n"]
    out += [files_table([r for rs in results.values() for r in rs])]
    out += ["\n### The latest manifest's size against open + count\n", manifest_table(manifests)]
    out += ["\n### The number of versions against open + count\n", version_table(versions)]
    print("\n".join(out))
    bad = [r for rs in results.values() for r in rs if r.problems()]
    if bad:
        raise SystemExit(f"{len(bad)} runs broke an invariant (see the ok column)")


if __name__ == "__main__":
    main()
