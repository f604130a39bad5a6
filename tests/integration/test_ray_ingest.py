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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.errors import PolyseekError
from tests.conftest import SAMPLE

pytest.importorskip("ray.data")
pytestmark = pytest.mark.slow

N_SMALL = 300  # small text files (plus the sample papers, images and PDFs)


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
        "PYTHONPATH": os.pathsep.join(p for p in [str(Path.cwd() / "src"), *sys.path] if p),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    }
    address = f"127.0.0.1:{port}"
    _ray(
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=1",
        "--include-dashboard=false",
        f"--temp-dir={tmp}",
        "--disable-usage-stats",
        env=env,
    )
    worker_env = {**env, "RAY_TMPDIR": str(tmp)}
    _ray(
        "start",
        f"--address={address}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=1",
        '--resources={"worker_node": 1}',
        env=worker_env,
    )
    old = os.environ.get("RAY_ADDRESS")
    os.environ["RAY_ADDRESS"] = address
    yield {"address": address, "tmp": str(tmp)}
    if old is None:
        os.environ.pop("RAY_ADDRESS", None)
    _ray("stop", "--force", env=env)


def _collection(dest: Path, n_small: int) -> Path:
    (dest / "notes").mkdir(parents=True)
    words = (SAMPLE / "papers").iterdir()
    texts = [p.read_text(encoding="utf-8") for p in sorted(words)]
    for k in range(n_small):
        body = texts[k % len(texts)].split("\n\n")[-1][:300]
        (dest / "notes" / f"note-{k:04d}.txt").write_text(f"note {k}: {body}", encoding="utf-8")
    shutil.copytree(SAMPLE / "images", dest / "images")
    shutil.copytree(SAMPLE / "pdfs", dest / "pdfs")
    return dest


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
        assert sorted(distributed.store.row_ids("items")) == sorted(local.store.row_ids("items"))
        for q in QUERIES:
            want = [h.item_id for h in local.search(q, top=10).hits]
            assert [h.item_id for h in distributed.search(q, top=10).hits] == want, q
        (root / "notes" / "note-0000.txt").write_text("submarine cartography", encoding="utf-8")
        (root / "notes" / "note-0001.txt").unlink()
        again = distributed.index(executor=executor)
        assert (again.updated, again.removed, again.added) == (1, 1, 0)
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

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "committed" in line:
                committed.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert committed.wait(timeout=120), "the Ray run never committed"
    # SIGKILL the worker node's raylet (the processes of the second node die with it).
    out = subprocess.run(
        ["pgrep", "-f", f"raylet.*{cluster['tmp']}"], capture_output=True, text=True
    ).stdout.split()
    raylets = sorted(int(p) for p in out)
    assert len(raylets) >= 2, raylets
    os.kill(raylets[-1], signal.SIGKILL)
    code = proc.wait(timeout=180)
    watcher.join(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    assert code in (0, 1), code  # completed through retries, or failed with a message

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
