"""Ray ingest throughput against the single-process indexer, measured in one run.

The same collection of small text files (paper abstracts cut into notes) is indexed
twice into fresh stores: by the ordinary indexer (one process, loader threads), and with
``RayExecutor`` on a local Ray cluster of ``--workers`` embedding actors. Ray's start-up
(``ray.init`` and a first small run that starts its worker processes) is timed apart and
left out of the throughput (a cluster is started once, not per run);
the table shows both. The issue's target: >= 0.85x the single-process files/s with two
local workers on this 2-core machine. Ray runs with the executor's defaults (compute
threads per actor: the cluster's CPUs divided among the actors; actors write the vector
rows as Lance fragments, the driver stages them with one Append) and with the rows sent
to the driver instead (``write_fragments=False``); ``--unpinned`` adds actors at the
runtime's own default of one thread per core each (the behaviour before pinning). All
interleaved with the single-process runs over ``--repeats``; the best of each reported.

    .venv/bin/python benchmarks/ray_ingest.py [--files 2000] [--workers 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from polyseek.engine import Engine
from polyseek.indexing_ray import RayExecutor

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-collection" / "papers"


def make_collection(dest: Path, n: int) -> Path:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE.iterdir())]
    (dest / "notes").mkdir(parents=True)
    for k in range(n):
        body = texts[k % len(texts)].split("\n\n")[-1][:400]
        (dest / "notes" / f"note-{k:05d}.txt").write_text(f"note {k}: {body}", encoding="utf-8")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--unpinned", action="store_true", help="also run actors at one thread per core each"
    )
    args = ap.parse_args()
    import ray

    cpus = os.cpu_count() or 1
    runs: dict[str, list[float]] = {}
    same = True
    work = Path(tempfile.mkdtemp(prefix="ray-ingest-"))
    try:
        root = make_collection(work / "collection", args.files)
        warm = make_collection(work / "warm-up", 4 * args.workers)
        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        # A first small run starts the cluster's worker processes (imports, model files
        # paged in): paid once per cluster, so counted as start-up.
        Engine.open(warm, store=work / "warm-store", create=True).index(
            executor=RayExecutor("auto", actors=args.workers)
        )
        startup = time.perf_counter() - t
        ray_runs: list[tuple[str, RayExecutor | None]] = [
            ("single process", None),
            (
                f"Ray, {args.workers} actors (default: pinned threads, actors write fragments)",
                RayExecutor("auto", actors=args.workers),
            ),
            (
                f"Ray, {args.workers} actors, rows sent to the driver",
                RayExecutor("auto", actors=args.workers, write_fragments=False),
            ),
        ]
        if args.unpinned:
            ray_runs.append(
                (
                    f"Ray, {args.workers} actors, {cpus} threads each (unpinned)",
                    RayExecutor("auto", actors=args.workers, threads=cpus),
                )
            )
        for rep in range(args.repeats):
            ids = []
            for name, executor in ray_runs:
                engine = Engine.open(root, store=work / f"store-{rep}-{len(ids)}", create=True)
                t = time.perf_counter()
                engine.index(executor=executor)
                runs.setdefault(name, []).append(time.perf_counter() - t)
                ids.append(sorted(engine.store.row_ids("items")))
            same = same and all(x == ids[0] for x in ids)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    single = min(runs["single process"])
    print("| run | files | best seconds | files/s | vs single |\n|---|---|---|---|---|")
    for name, times in runs.items():
        best = min(times)
        print(
            f"| {name} | {args.files} | {best:.1f} | {args.files / best:.1f} "
            f"| {single / best:.2f}x |"
        )
    print(f"\nRay start-up (not in the above): {startup:.1f} s; same item ids: {same}")


if __name__ == "__main__":
    main()
