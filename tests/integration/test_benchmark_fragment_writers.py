"""benchmarks/fragment_writers.py at a tiny size: concurrent fragment writers, one group
committer, a concurrent compactor, local and on moto's S3 server. What must hold: every
fragment written is committed exactly once, the dataset holds exactly the rows written,
no id twice, one source record per source."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest

lance = pytest.importorskip("lance")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import fragment_writers as fw  # noqa: E402


def _check_dataset(res: fw.RunResult, options: dict[str, str]) -> lance.LanceDataset:
    """The run's dataset read back here, against ids made from the config alone."""
    cfg = res.config
    assert res.problems() == []
    assert res.committed == Counter({k: 1 for k in range(cfg.fragments)})
    assert sum(res.group) == cfg.fragments and res.commits == len(res.group) >= 1
    ds = lance.dataset(res.uri, storage_options=options or None)
    ids = ds.to_table(columns=["id"]).column("id").to_pylist()
    want = {fw.row_id(k, i) for k in range(cfg.fragments) for i in range(cfg.rows_per_fragment)}
    assert len(ids) == len(set(ids)) == ds.count_rows() == cfg.rows
    assert set(ids) == want
    sources = lance.dataset(res.uri.replace("/vectors.lance", "/sources.lance"),
                            storage_options=options or None)  # fmt: skip
    paths = sources.to_table(columns=["path"]).column("path").to_pylist()
    assert len(paths) == len(set(paths)) == len({fw.source_path(k, i) for k, i in _rows(cfg)})
    return ds


def _rows(cfg: fw.RunConfig) -> list[tuple[int, int]]:
    return [(k, i) for k in range(cfg.fragments) for i in range(cfg.rows_per_fragment)]


def test_writers_and_one_committer_commit_every_fragment_once(tmp_path):
    cfg = fw.RunConfig(writers=3, fragments=12, rows_per_fragment=120)
    res = fw.run(cfg, fw.Target(str(tmp_path)), "local")
    _check_dataset(res, {})
    assert len(res.wait_s) == cfg.fragments and min(res.wait_s) > 0
    assert res.files["data"] == cfg.fragments  # one data file per fragment, no compaction


def test_compaction_concurrent_with_appends_loses_and_duplicates_nothing(tmp_path):
    # Writers pause between fragments so that appends keep landing while it compacts.
    cfg = fw.RunConfig(
        writers=2, fragments=30, rows_per_fragment=60, compact=True,
        compact_target_rows=10_000, compact_min_fragments=4, writer_pause_s=0.05,
    )  # fmt: skip
    res = fw.run(cfg, fw.Target(str(tmp_path)), "compact")
    ds = _check_dataset(res, {})
    assert res.compactions and res.compaction_errors == []
    assert len(ds.get_fragments()) < cfg.fragments


def test_on_s3_counts_each_commits_requests(tmp_path):
    pytest.importorskip("moto.server")
    with fw.s3_server() as endpoint:
        target = fw.s3_target(endpoint, f"t{time.time_ns()}")
        cfg = fw.RunConfig(writers=2, fragments=6, rows_per_fragment=100)
        res = fw.run(cfg, target, "s3")
        _check_dataset(res, target.options)
    # Each commit puts one manifest per table; each fragment at least one data object.
    assert res.requests["PUT manifest"] >= res.commits
    assert res.requests["PUT sources:manifest"] >= res.commits
    assert res.requests["PUT data"] >= cfg.fragments
    assert res.files["data"] == cfg.fragments
