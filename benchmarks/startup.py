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
through a running server <= 0.1 s. On a shared machine wall time mostly measures the other
processes: read the CPU seconds (user + system of the process and its children) and the
ratios to ``python -c pass`` and ``import torch``, which run in the same interleaved rounds.

``--baseline SRC`` runs every polyseek row a second time with ``PYTHONPATH=SRC`` (say the
``src/`` of a checkout of main), interleaved with the rows of this tree, for a before/after
in one run.

    .venv/bin/python benchmarks/startup.py [--repeat 5] [--papers 40] [--baseline SRC]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, its children included) of one fresh process."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, cpu


def timed_runs(cmd: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    return [timed_run(cmd, env)[0] for _ in range(repeat)]


def interleaved(
    commands: dict[str, tuple[list[str], dict[str, str]]], repeat: int
) -> dict[str, list[tuple[float, float]]]:
    """Each command once per round, ``repeat`` rounds: a load that comes and goes while the
    benchmark runs falls on every row alike."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, (cmd, env) in commands.items():
            runs[name].append(timed_run(cmd, env))
    return runs


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
    ap.add_argument(
        "--baseline", type=Path, help="src/ of another checkout: its rows run beside these"
    )
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    py = sys.executable
    polyseek = [py, "-m", "polyseek"]
    trees = {"": env}
    if args.baseline is not None:
        trees[" [baseline]"] = {**env, "PYTHONPATH": str(args.baseline.resolve())}
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
        commands = {
            "python -c pass": ([py, "-c", "pass"], env),
            'python -c "import torch"': ([py, "-c", "import torch"], env),
        }
        for tag, tree_env in trees.items():
            commands[f"polyseek --help{tag}"] = ([*polyseek, "--help"], tree_env)
            commands[f"polyseek status{tag}"] = ([*polyseek, "status", "-c", str(root)], tree_env)
            commands[f"polyseek search (cold process){tag}"] = (
                [*polyseek, "search", QUERY, "-c", str(root)],
                tree_env,
            )
        rows = interleaved(commands, args.repeat)
        http, warm = via_server(root, args.repeat, env, polyseek)
        rows["HTTP search to a running polyseek serve"] = [(s, float("nan")) for s in http]
        rows["polyseek search (cold process, serve running)"] = [(s, float("nan")) for s in warm]
    report(rows, args.papers, args.repeat)


def report(rows: dict[str, list[tuple[float, float]]], papers: int, repeat: int) -> None:
    def median(runs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    base = median(rows["python -c pass"], 0)
    torch_cpu = median(rows['python -c "import torch"'], 1)
    width = max(len(k) for k in rows) + 2
    print(f"\nstart-up, {papers} papers indexed, {repeat} runs each (seconds; medians)")
    print(f"{'command':<{width}} {'wall':>7} {'best':>7} {'x python':>9} {'cpu':>7} {'x torch':>8}")
    for name, runs in rows.items():
        wall, cpu = median(runs, 0), median(runs, 1)
        cpu_cols = "" if cpu != cpu else f" {cpu:>7.3f} {cpu / torch_cpu:>8.2f}"  # nan: none
        best = min(r[0] for r in runs)
        print(f"{name:<{width}} {wall:>7.3f} {best:>7.3f} {wall / base:>9.1f}{cpu_cols}")


if __name__ == "__main__":
    main()
