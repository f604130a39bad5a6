"""Start-up cost of everyday CLI calls, beside Python itself, in one run (issue 12).

Each row is a fresh process, run ``--repeat`` times (median and best wall seconds), over a
small index of the bundled paper listings made first:

  python -c pass                 the floor: an interpreter that does nothing
  python -c "import torch"       what any torch-based CLI pays before its first line
  polyseek --help                must load no model
  polyseek status                reads the index, loads no model
  polyseek search "..." (cold)   a whole search in a fresh process: imports, index open,
                                 query embedding (MiniLM on ONNX Runtime), ranking, output
  HTTP search to a running serve one HTTP round trip to ``polyseek serve`` (warm models)
  polyseek search, serve running a fresh CLI process that finds the server of the index
                                 and sends it the query (``--no-server`` opts out)

Goals (idle 2-core machine): ``--help`` <= 0.3 s, a cold search <= 1.5 s, a search
through a running server <= 0.1 s. On a shared machine read the ratios to ``python -c pass``.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--papers 40]
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
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PAPERS = REPO / "examples" / "sample-collection" / "papers"
QUERY = "contrastive learning of image and text representations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed_runs(cmd: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        out.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return out


def via_server(
    root: Path, repeat: int, env: dict[str, str], cli: list[str]
) -> tuple[list[float], list[float]]:
    """HTTP round trips to a running ``polyseek serve``, and fresh ``polyseek search``
    processes that find it (``<store>/serve.json``) and send their query to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "polyseek", "serve", "-c", str(root), "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--no-auth"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        httpx.get(url + "/api/search", params={"q": "warm up"}, timeout=120).raise_for_status()
        out = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for i in range(repeat * 4):
                t0 = time.perf_counter()
                client.get("/api/search", params={"q": f"{QUERY} {i}"}).raise_for_status()
                out.append(time.perf_counter() - t0)
        warm = timed_runs([*cli, "search", QUERY, "-c", str(root)], repeat, env)
        return out, warm
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--papers", type=int, default=40)
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    py = sys.executable
    polyseek = [py, "-m", "polyseek"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "collection"
        root.mkdir()
        for p in sorted(PAPERS.iterdir())[: args.papers]:
            shutil.copy2(p, root / p.name)
        subprocess.run([*polyseek, "index", str(root)], check=True, capture_output=True, env=env)
        # one search first, so that the ONNX export of MiniLM is in the user cache as it
        # is after a first use
        subprocess.run(
            [*polyseek, "search", QUERY, "-c", str(root)], check=True, capture_output=True, env=env
        )
        rows = {
            "python -c pass": timed_runs([py, "-c", "pass"], args.repeat, env),
            'python -c "import torch"': timed_runs([py, "-c", "import torch"], args.repeat, env),
            "polyseek --help": timed_runs([*polyseek, "--help"], args.repeat, env),
            "polyseek status": timed_runs([*polyseek, "status", "-c", str(root)], args.repeat, env),
            "polyseek search (cold process)": timed_runs(
                [*polyseek, "search", QUERY, "-c", str(root)], args.repeat, env
            ),
        }
        http, warm = via_server(root, args.repeat, env, polyseek)
        rows["HTTP search to a running polyseek serve"] = http
        rows["polyseek search (cold process, serve running)"] = warm
    base = statistics.median(rows["python -c pass"])
    width = max(len(k) for k in rows) + 2
    print(f"\nstart-up, {args.papers} papers indexed, {args.repeat} runs each (wall seconds)")
    print(f"{'command':<{width}} {'median':>8} {'best':>8} {'x python':>9}")
    for name, runs in rows.items():
        med = statistics.median(runs)
        print(f"{name:<{width}} {med:>8.3f} {min(runs):>8.3f} {med / base:>9.1f}")


if __name__ == "__main__":
    main()
