"""Search latency over HTTP while an index run goes on, against the same server idle.

One real `polyseek serve` process (uvicorn, 127.0.0.1) over a copy of the sample
collection's papers; `--clients` threads send text searches:
  idle         no index run (baseline)
  indexing     while POST /api/index adds --add more papers in the background
Reports median / p95 latency, throughput and errors per phase, with ratios to idle.
The machine's cores are shared by the indexer and the searches, so some slowdown is
expected; the point is that searches keep being answered (no errors, no stall).

    .venv/bin/python benchmarks/serve_latency.py [--papers 60] [--add 120] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAPERS = ROOT / "examples" / "sample-collection" / "papers"
QUERIES = [
    "contrastive image text pretraining",
    "hallucination in vision language models",
    "few-shot learning with multimodal models",
    "video question answering benchmark",
    "mixture of experts for multimodal LLMs",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phase(url: str, clients: int, until: threading.Event | float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + until if isinstance(until, float) else None

    def done() -> bool:
        return (deadline is not None and time.monotonic() > deadline) or (
            isinstance(until, threading.Event) and until.is_set()
        )

    def client(n: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=120) as c:
            i = n
            while not done():
                t = time.perf_counter()
                r = c.get("/api/search", params={"q": QUERIES[i % len(QUERIES)], "top": 10})
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += r.status_code != 200
                i += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    lat = sorted(latencies)
    return {
        "requests": len(lat),
        "errors": errors,
        "median_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
        "max_ms": 1000 * lat[-1],
        "rps": len(lat) / wall,
        "seconds": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=60, help="papers indexed before the run")
    ap.add_argument("--add", type=int, default=120, help="papers added by the index run")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    files = sorted(PAPERS.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "collection"
        (root / "papers").mkdir(parents=True)
        for p in files[: args.papers]:
            shutil.copy2(p, root / "papers")
        py = sys.executable
        subprocess.run([py, "-m", "polyseek", "index", str(root)], check=True, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [py, "-m", "polyseek", "serve", "-c", str(root), "--port", str(port), "--no-auth"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            httpx.get(url + "/api/search", params={"q": "warm up"}, timeout=60)
            idle = phase(url, args.clients, args.idle_seconds)
            for p in files[args.papers : args.papers + args.add]:
                shutil.copy2(p, root / "papers")
            finished = threading.Event()

            def watch() -> None:
                httpx.post(url + "/api/index", json={}, timeout=30).raise_for_status()
                while httpx.get(url + "/api/index", timeout=30).json()["state"] == "running":
                    time.sleep(0.2)
                finished.set()

            watcher = threading.Thread(target=watch)
            watcher.start()
            busy = phase(url, args.clients, finished)
            watcher.join()
            job = httpx.get(url + "/api/index", timeout=30).json()
        finally:
            server.terminate()
            server.wait(30)
    print(
        f"\n{args.clients} clients, text search top-10; index run added "
        f"{job['report']['added']} papers ({job['report']['items']} items) "
        f"in {job['report']['seconds']:.1f} s\n"
    )
    head = f"{'phase':<10}{'requests':>9}{'errors':>7}{'median ms':>11}{'p95 ms':>9}"
    head += f"{'max ms':>9}{'req/s':>8}{'median x':>10}{'req/s x':>9}"
    print(head)
    for name, r in (("idle", idle), ("indexing", busy)):
        print(
            f"{name:<10}{r['requests']:>9}{r['errors']:>7}{r['median_ms']:>11.1f}"
            f"{r['p95_ms']:>9.1f}{r['max_ms']:>9.1f}{r['rps']:>8.1f}"
            f"{r['median_ms'] / idle['median_ms']:>10.2f}{r['rps'] / idle['rps']:>9.2f}"
        )


if __name__ == "__main__":
    main()
