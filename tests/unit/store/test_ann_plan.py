"""The ANN index chosen by table size, built for real on a small table, its recall
measured against LanceDB's exhaustive scan and reported by status."""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.store.ann import ANN_MIN_ROWS, PQ_MIN_ROWS, plan_for
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator


def test_plan_by_size():
    assert plan_for(ANN_MIN_ROWS - 1, 384) is None  # small: exact in memory
    mid = plan_for(1_000_000, 384)
    assert mid is not None and mid.index_type == "IVF_HNSW_SQ" and mid.num_partitions == 1000
    big = plan_for(10_000_000, 384)
    assert big is not None and big.index_type == "IVF_PQ"
    assert big.num_sub_vectors == 48 and 384 % big.num_sub_vectors == 0
    assert big.refine_factor > mid.refine_factor  # PQ loses more: re-score a longer head
    assert plan_for(PQ_MIN_ROWS, 100).num_sub_vectors == 10  # divides the dimension


def _store(tmp_path, n: int, dim: int = 32) -> LanceStore:
    info = EncoderInfo(spec="test:clusters", kind="text", revision="r1", dim=dim)
    store = LanceStore.create(tmp_path / "s", Manifest((info,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, dim))  # structured vectors: ANN is meaningful on them
    vectors = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        StoredItem(
            id=f"i{k:05d}",
            source="a.txt",
            gen="g",
            modality="text",
            locator=Locator(),
            text="x",
            metadata={},
        )
        for k in range(n)
    ]
    batch = SourceBatch(
        records=[
            SourceRecord(
                path="a.txt",
                content_hash="h",
                size=1,
                mtime_ns=1,
                gen="g",
                status="ok",
                n_items=n,
                indexed_at=0.0,
            )
        ],
        items=items,
        vectors={info.key: ([it.id for it in items], vectors.astype(np.float32))},
    )
    store.commit(batch)
    return store


def test_built_index_reports_measured_recall(tmp_path):
    store = _store(tmp_path, 3000)
    key = store.manifest.encoders[0].key
    plan = store.build_ann_index(key)
    assert plan.index_type == "IVF_HNSW_SQ"
    report = store.ann_report()[key]
    assert report["index_type"] == "IVF_HNSW_SQ" and report["rows"] == 3000
    assert 0.8 <= report["recall_at_10"] <= 1.0
    assert store.has_ann_index(key)
    q = store.vectors(key).matrix[:3]
    ann = store.search_vectors(key, q, 10)
    exact = store.search_vectors(key, q, 10, exact=True)
    assert [r[0][0] for r in ann] == [r[0][0] for r in exact]  # a row finds itself first
    reopened = LanceStore.open(tmp_path / "s")
    assert reopened.ann_report()[key]["recall_at_10"] == report["recall_at_10"]
