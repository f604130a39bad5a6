"""The store on an S3-compatible server (moto's, on 127.0.0.1): index, search, re-index
after changes, remove, SIGKILL mid-commit, and the writer lease."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.errors import StoreError
from polyseek.store.lancedb import LanceStore, write_lock
from polyseek.store.uri import StoreLocation
from tests.conftest import SAMPLE

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh bucket; credentials in the environment (as users give them)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POLYSEEK_CACHE": str(tmp_path / "cache"),
    }.items():
        monkeypatch.setenv(key, value)
    bucket = f"b{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return {
        "uri": f"s3://{bucket}/collections/papers",
        "endpoint": s3_endpoint,
        "region": "us-east-1",
        "allow_http": "true",
        "polyseek_lease_seconds": "3",
    }


def _collection(dest: Path, n_papers: int) -> Path:
    """Some papers and two images (previews): enough to cover every side file, fast."""
    (dest / "papers").mkdir(parents=True)
    (dest / "images").mkdir()
    for p in sorted((SAMPLE / "papers").iterdir())[:n_papers]:
        shutil.copy2(p, dest / "papers" / p.name)
    for name in ("pump-room-sign.jpg", "colour-gradient-shapes.png"):
        shutil.copy2(SAMPLE / "images" / name, dest / "images" / name)
    return dest


def _options(s3: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in s3.items() if k != "uri"}


def _visible(store: LanceStore) -> dict[str, tuple[str, str]]:
    return {i: (it.source, it.text) for i, it in store.get_items(store.row_ids("items")).items()}


@pytest.mark.slow
def test_index_search_reindex_remove_on_s3(s3, tmp_path):
    root = _collection(tmp_path / "collection", 6)
    local = Engine.open(root, store=tmp_path / "local", create=True)
    local.index()
    engine = Engine.open(root, store=s3["uri"], storage_options=_options(s3), create=True)
    report = engine.index()
    assert report.failed == [] and report.added == len(local.store.sources())
    assert str(engine.store.location) == s3["uri"]
    # Nothing of the index is on local disk but the working folder's mirror.
    keys = {k for k, _ in engine.store.location.listing()}
    assert "manifest.json" in keys and any(k.startswith("db/items.lance/") for k in keys)
    assert not (root / ".polyseek").exists()

    for q in ["neural networks", "pump room", "vision language models"]:
        want = [h.item_id for h in local.search(q, top=5).hits]
        assert [h.item_id for h in engine.search(q, top=5).hits] == want

    # A second process (a fresh working folder) sees the same index.
    shutil.rmtree(engine.store.path)
    again = Engine.open(store=s3["uri"], storage_options=_options(s3))
    assert again.status().items == local.status().items
    preview = next(it for it in _items(again) if it.preview)
    assert again.preview_file(preview).is_file()  # fetched from the bucket

    changed = sorted((root / "papers").iterdir())
    changed[0].write_text("entirely new words about submarine cartography", encoding="utf-8")
    changed[1].unlink()
    r2 = again.index()
    assert (r2.added, r2.updated, r2.removed) == (0, 1, 1)
    assert again.search("submarine cartography", top=1).hits[0].source == (
        f"papers/{changed[0].name}"
    )
    assert again.remove(f"papers/{changed[2].name}") == 1
    st = LanceStore.open(StoreLocation.parse(s3["uri"], _options(s3)))
    raw = st.row_ids("items")
    assert len(raw) == len(set(raw)) == len(_visible(st))
    assert st.recover() == 0


def _items(engine: Engine) -> list:
    return list(engine.items(engine.store.row_ids("items")).values())


def test_writer_lease_excludes_a_second_writer_and_expires(s3):
    loc = StoreLocation.parse(s3["uri"], _options(s3))
    with write_lock(loc):
        with pytest.raises(StoreError, match="another process is writing"):
            with write_lock(loc):
                pass
    with write_lock(loc):  # released: taken again at once
        pass
    # A holder that was SIGKILLed leaves its lease: it blocks until it expires.
    code = (
        "import sys, time\n"
        "from polyseek.store.uri import StoreLocation\n"
        f"loc = StoreLocation.parse({s3['uri']!r}, {_options(s3)!r})\n"
        "with loc.lease():\n"
        "    print('held', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    holder.stdout.close()
    with pytest.raises(StoreError, match="lease held by"):
        with write_lock(loc):
            pass
    time.sleep(float(s3["polyseek_lease_seconds"]) + 0.5)
    with write_lock(loc):  # expired: taken over
        pass


def _kill_after_commits(root: Path, s3: dict[str, str], commits: int) -> int:
    opts = [a for k, v in _options(s3).items() for a in ("--storage-option", f"{k}={v}")]
    cmd = [sys.executable, "-m", "polyseek", "-v", "index", str(root), "--store", s3["uri"]]
    proc = subprocess.Popen(
        [*cmd, *opts, "--batch-files", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = threading.Event()

    def watch() -> None:
        n = 0
        assert proc.stderr is not None
        for line in proc.stderr:
            n += "committed" in line
            if n >= commits:
                seen.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if seen.wait(timeout=120):
        proc.send_signal(signal.SIGKILL)
    code = proc.wait(timeout=60)
    watcher.join(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    return code


@pytest.mark.slow
def test_sigkill_mid_commit_on_s3_converges(s3, tmp_path):
    root = _collection(tmp_path / "collection", 9)
    reference = Engine.open(root, store=tmp_path / "reference", create=True)
    reference.index()
    expected = _visible(reference.store)  # type: ignore[arg-type]
    killed = sum(_kill_after_commits(root, s3, n) == -signal.SIGKILL for n in (1, 2))
    assert killed >= 1, "the indexer was not killed mid-run: nothing was tested"
    time.sleep(float(s3["polyseek_lease_seconds"]) + 0.5)  # the killed writer's lease
    engine = Engine.open(root, store=s3["uri"], storage_options=_options(s3))
    assert engine.index().failed == []
    st = LanceStore.open(StoreLocation.parse(s3["uri"], _options(s3)))
    assert _visible(st) == expected
    raw = st.row_ids("items")
    assert len(raw) == len(set(raw)) == len(expected)  # no duplicate, no orphan
    for enc in st.manifest.encoders:
        want = Counter(reference.store.row_ids(enc.key))  # type: ignore[attr-defined]
        assert Counter(st.row_ids(enc.key)) == want
    assert st.recover() == 0


def test_uri_and_storage_option_errors_are_clear(tmp_path):
    from polyseek.errors import ConfigError
    from polyseek.maintenance import check_index
    from polyseek.store.uri import parse_storage_options

    assert parse_storage_options(["endpoint=http://127.0.0.1:9", "region=x"]) == {
        "endpoint": "http://127.0.0.1:9",
        "region": "x",
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_storage_options(["endpoint"])
    with pytest.raises(ConfigError, match="name a bucket"):
        StoreLocation.parse("s3://")
    with pytest.raises(ConfigError, match="not the local path"):
        StoreLocation.parse(tmp_path, {"region": "x"})
    with pytest.raises(ConfigError, match="local stores"):
        check_index(None, store="s3://bucket/prefix")
    with pytest.raises(StoreError, match="s3://"):
        with write_lock(StoreLocation.parse("gs://bucket/prefix")):
            pass
