"""Ingest on a real local Ray cluster (a head and a second node, on 127.0.0.1): the
result equals a local index; SIGKILLing the worker node mid-run completes through Ray's
retries or fails clearly, and a re-run converges with no duplicate and no orphan."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.errors import PolyseekError
from tests.conftest import REPO, SAMPLE

pytest.importorskip("ray.data")
pytestmark = pytest.mark.slow

N_SMALL = 120  # small text files (plus the sample papers, images and PDFs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray(*args: str, env: dict[str, str]) -> None:
    ray_bin = Path(sys.executable).with_name("ray")
    subprocess.run([str(ray_bin), *args], check=True, env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`ray start --head` plus a second node joined to it, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("ray")
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        # Token auth turns itself on when ~/.ray holds a token: not for a loopback cluster.
        "RAY_AUTH_MODE": "disabled",
    }
    address = f"127.0.0.1:{port}"
    try:
        _ray(
            "start",
            "--head",
            f"--port={port}",
            f"--temp-dir={tmp}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            *NODE,
            env=env,
        )
        _ray("start", f"--address={address}", *NODE, env=env)
    except BaseException:
        _stop_cluster(tmp)
        raise
    saved = {k: os.environ.get(k) for k in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    os.environ.update(RAY_ADDRESS=address, RAY_AUTH_MODE="disabled")
    try:
        yield {"address": address, "tmp": str(tmp)}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _stop_cluster(tmp)


NODE = ("--node-ip-address=127.0.0.1", "--num-cpus=1")


def _cluster_pids(tmp: Path) -> list[int]:
    """The processes of this test's cluster (their command lines name its temp dir)."""
    out = subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def _stop_cluster(tmp: Path) -> None:
    """Stop this cluster's processes only (`ray stop` would stop every Ray on the machine)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_pids(tmp):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


def _collection(dest: Path, n_small: int) -> Path:
    (dest / "notes").mkdir(parents=True)
    words = (SAMPLE / "papers").iterdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(words)]
    for k in range(n_small):
        body = texts[k % len(texts)].split("\n\n")[-1][:300]
        (dest / "notes" / f"note-{k:04d}.txt").write_text(f"note {k}: {body}", encoding="utf-8")
    for sub, name in PICKED:
        (dest / sub).mkdir(exist_ok=True)
        shutil.copy2(SAMPLE / sub / name, dest / sub / name)
    return dest


PICKED = [  # images (OCR, previews) and PDFs with a text layer (page renders)
    ("images", "pump-room-sign.jpg"),
    ("images", "colour-gradient-shapes.png"),
    ("pdfs", "p200-pump-maintenance-manual.pdf"),
    ("pdfs", "reading-notes-contrastive-learning.pdf"),
]


QUERIES = [
    "vision language",
    "pump housing",
    "contrastive pretraining",
    "video questions",
    "hallucination",
    "receipt spare parts",
    "text to image",
    "few shot learning",
]


def test_ray_index_equals_local_index(cluster, tmp_path):
    from polyseek.indexing_ray import RayExecutor

    root = _collection(tmp_path / "collection", N_SMALL)
    local = Engine.open(root, store=tmp_path / "local", create=True)
    local.index()
    distributed = Engine.open(root, store=tmp_path / "ray", create=True)
    executor = RayExecutor("auto")
    try:
        report = distributed.index(executor=executor)
        assert report.failed == []
        assert executor.staged_fragments > 0  # the actors wrote the vector rows themselves
        assert sorted(distributed.store.row_ids("items")) == sorted(local.store.row_ids("items"))
        for q in QUERIES:
            want = [h.item_id for h in local.search(q, top=10).hits]
            assert [h.item_id for h in distributed.search(q, top=10).hits] == want, q
        (root / "notes" / "note-0000.txt").write_text("submarine cartography", encoding="utf-8")
        (root / "notes" / "note-0001.txt").unlink()
        # The other path: rows sent to the driver, which stages them itself.
        shipped = RayExecutor("auto", write_fragments=False)
        again = distributed.index(executor=shipped)
        assert (again.updated, again.removed, again.added) == (1, 1, 0)
        assert shipped.staged_fragments == 0
        hits = distributed.search("submarine cartography", top=1).hits
        assert hits and hits[0].source == "notes/note-0000.txt"
        ids = distributed.store.row_ids("items")
        assert len(ids) == len(set(ids)) == len(distributed.items(ids))
    finally:
        executor.shutdown()


def test_sigkill_worker_node_mid_run_converges(cluster, tmp_path):
    root = _collection(tmp_path / "collection", N_SMALL)
    store = tmp_path / "ray"
    cmd = [
        sys.executable,
        "-m",
        "polyseek",
        "-v",
        "index",
        str(root),
        "--store",
        str(store),
        "--ray",
        "auto",
        "--batch-files",
        "8",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    committed = threading.Event()
    tail: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "committed" in line:
                committed.set()
            tail[:] = [*tail[-40:], line.strip()]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert committed.wait(timeout=120), "the Ray run never committed"
        # SIGKILL the worker node's raylet (the processes of the second node die with it).
        out = subprocess.run(
            ["pgrep", "-f", f"raylet.*{cluster['tmp']}"], capture_output=True, text=True
        ).stdout.split()
        raylets = sorted(int(p) for p in out)
        assert len(raylets) >= 2, raylets
        os.kill(raylets[-1], signal.SIGKILL)
        hung = False
        try:
            code = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            # Seen on a 2-core machine after other tests used the cluster: Ray Data waits
            # for the dead node's actors. Killed here like a user would; the index must
            # still converge (checked below), and the test reports the hang as xfail.
            hung, code = True, 1
    finally:  # never leave the run (or its pipe) behind for the next tests
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        watcher.join(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    # Completed through retries (0), or failed with polyseek's message (2: the Ray run
    # failed, everything committed is intact, run again); 1 is the hang killed above.
    assert code in (0, 1, 2), code
    if code == 2:
        said = " ".join(tail)
        assert "error:" in said and "run the command again" in said, said

    engine = Engine.open(root, store=store)
    try:
        report = engine.index()
    except PolyseekError as exc:  # pragma: no cover - shows what went wrong
        pytest.fail(exc.message)
    assert report.failed == []
    ids = engine.store.row_ids("items")
    visible = engine.items(ids)
    assert len(ids) == len(set(ids)) == len(visible)  # no duplicate, no orphan
    sources = {p for p, r in engine.store.sources().items() if r.status == "ok"}
    assert Counter(it.source for it in visible.values()).keys() == sources
    assert engine.store.recover() == 0
    if hung:
        pytest.xfail("the Ray run hung after its worker node died (killed; the index converged)")
