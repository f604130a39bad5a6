"""Ray ingest throughput against the single-process indexer, measured in one run.

The same collection of small text files (paper abstracts cut into notes) is indexed
twice into fresh stores: by the ordinary indexer (one process, loader threads), and with
``RayExecutor`` on a local Ray cluster of ``--workers`` embedding actors. Ray's start-up
is timed apart and left out of the throughput (a cluster is started once, not per run);
the table shows both. The issue's target: >= 0.85x the single-process files/s with two
local workers on this 2-core machine.

    .venv/bin/python benchmarks/ray_ingest.py [--files 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
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
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ray-ingest-"))
    try:
        root = make_collection(work / "collection", args.files)
        local = Engine.open(root, store=work / "local", create=True)
        t = time.perf_counter()
        local.index()
        single = time.perf_counter() - t

        import ray

        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t
        executor = RayExecutor("auto", actors=args.workers)
        distributed = Engine.open(root, store=work / "ray", create=True)
        t = time.perf_counter()
        distributed.index(executor=executor)
        on_ray = time.perf_counter() - t
        ray.shutdown()
        same = sorted(local.store.row_ids("items")) == sorted(distributed.store.row_ids("items"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| run | files | seconds | files/s | vs single |\n|---|---|---|---|---|")
    print(f"| single process | {args.files} | {single:.1f} | {args.files / single:.1f} | 1.00x |")
    print(
        f"| Ray, {args.workers} actors | {args.files} | {on_ray:.1f} | {args.files / on_ray:.1f} "
        f"| {single / on_ray:.2f}x |"
    )
    print(f"\nRay start-up (not in the above): {startup:.1f} s; same item ids: {same}")


if __name__ == "__main__":
    main()
