"""SIGKILL the indexer mid-run, several times: nothing may be duplicated, orphaned or lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.indexing import FIRST_BATCH
from polyseek.store.lancedb import LanceStore
from tests.conftest import copy_small_collection

pytestmark = pytest.mark.slow


def visible_items(store_path: Path) -> dict[str, tuple[str, str]]:
    store = LanceStore.open(store_path)
    ids = store.row_ids("items")
    return {i: (it.source, it.text) for i, it in store.get_items(ids).items()}


def kill_during_commits(
    root: Path, store: Path, commits_before_kill: int, delay: float, batch_files: int | None = 4
) -> int:
    """Start `polyseek index`, SIGKILL it ``delay`` s after its n-th commit; return its code."""
    cmd = [sys.executable, "-m", "polyseek", "-v", "index", str(root), "--store", str(store)]
    batching = ["--batch-files", str(batch_files)] if batch_files else []
    proc = subprocess.Popen(
        [*cmd, *batching],
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
            if "committed" in line:
                n += 1
                if n >= commits_before_kill:
                    seen.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if seen.wait(timeout=240):
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    code = proc.wait(timeout=60)
    watcher.join(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    return code


def test_sigkill_mid_index_loses_and_duplicates_nothing(tmp_path):
    root = copy_small_collection(tmp_path / "collection", n_papers=40)
    reference_store = tmp_path / "reference"
    Engine.open(root, store=reference_store, create=True).index()
    expected = visible_items(reference_store)
    assert len(expected) > 40

    store = tmp_path / "crashed"
    rng = random.Random(7)
    killed = 0
    for attempt in range(4):
        code = kill_during_commits(
            root, store, commits_before_kill=1 + attempt, delay=rng.uniform(0, 0.3)
        )
        killed += code == -signal.SIGKILL
        if attempt == 1:  # the collection changes between crashes, too
            victim = sorted((root / "papers").iterdir())[-1]
            victim.unlink()
            expected = {k: v for k, v in expected.items() if v[0] != f"papers/{victim.name}"}
    assert killed >= 3, "the indexer was not killed mid-run often enough to test anything"

    report = Engine.open(root, store=store).index()
    assert report.failed == []
    got = visible_items(store)
    assert got == expected  # nothing lost, nothing extra

    st = LanceStore.open(store)
    raw_ids = st.row_ids("items")
    assert len(raw_ids) == len(set(raw_ids)) == len(expected)  # no duplicates, no orphans
    reference = LanceStore.open(reference_store)
    for enc in st.manifest.encoders:
        # An item owns one vector row per passage: exactly the rows a clean index has.
        want = Counter(i for i in reference.row_ids(enc.key) if i in expected)
        assert Counter(st.row_ids(enc.key)) == want
    previews = {it.preview for it in st.get_items(raw_ids).values() if it.preview}
    on_disk = {p.relative_to(store).as_posix() for p in (store / "media").rglob("*.jpg")}
    assert on_disk == previews
    assert st.recover() == 0


def test_a_kill_after_the_first_commit_keeps_the_first_files(tmp_path):
    """With the default batch size (256 files) the first commit still comes after a few
    dozen files, so a run killed early has saved them; the next run skips them."""
    root = tmp_path / "notes"
    root.mkdir()
    n = 150
    for i in range(n):
        (root / f"note{i:03d}.txt").write_text(f"harbour log {i}: calm sea", encoding="utf-8")
    store = tmp_path / "idx"
    code = kill_during_commits(root, store, commits_before_kill=1, delay=0.0, batch_files=None)
    assert code == -signal.SIGKILL
    saved = len(LanceStore.open(store).sources())
    assert 0 < saved <= FIRST_BATCH * 3 < n  # the first (small) batches, not the whole run
    report = Engine.open(root, store=store).index()
    assert report.unchanged == saved and report.added == n - saved and report.failed == []
