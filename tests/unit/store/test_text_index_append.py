"""The local full-text index of a large table takes in new rows as a segment (issue 11:
kept up to date without rewriting the whole index after small additions), folds its
segments with one rebuild past TEXT_MAX_SEGMENTS, and small tables keep rebuilding."""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.distributed_index import TEXT_INDEX_NAME, segments
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator

ENC = EncoderInfo(spec="test:t", kind="text", revision="r1", dim=4)


def _commit(store: LanceStore, source: str, texts: list[str]) -> None:
    items = [
        StoredItem(f"{source}#{n}", source, "g", "text", Locator(), t, {})
        for n, t in enumerate(texts)
    ]
    vecs = np.eye(4, dtype=np.float32)[np.arange(len(items)) % 4]
    record = SourceRecord(source, "h", 1, 1, "g", "ok", n_items=len(items))
    store.commit(SourceBatch([record], items, {ENC.key: ([it.id for it in items], vecs)}))


def _segments(store: LanceStore) -> dict[str, set[int]]:
    return segments(store.lance_table("items").to_lance(), TEXT_INDEX_NAME)


def test_large_tables_append_a_segment_then_fold_them(tmp_path):
    store = LanceStore.create(tmp_path / "s", Manifest((ENC,), collection_root=str(tmp_path)))
    store.TEXT_APPEND_MIN_ROWS = 10  # "large" for this test
    store.TEXT_MAX_SEGMENTS = 3
    _commit(store, "a.txt", [f"alpha common word{n}" for n in range(20)])
    store.ensure_text_index()
    first = _segments(store)
    assert len(first) == 1
    _commit(store, "b.txt", ["bravo common rare"])
    assert store.unindexed_text_rows() == 1
    store.ensure_text_index()
    second = _segments(store)
    assert len(second) == 2 and all(second.get(u) == f for u, f in first.items())  # kept
    assert store.unindexed_text_rows() == 0
    assert [i for i, _ in store.search_text("bravo", 5)] == ["b.txt#0"]  # the new segment
    assert len(store.search_text("common", 50)) == 21  # both segments answer
    _commit(store, "c.txt", ["charlie common"])
    store.ensure_text_index()
    assert len(_segments(store)) == 3
    _commit(store, "d.txt", ["delta common"])
    store.ensure_text_index()  # a fourth would pass TEXT_MAX_SEGMENTS: one rebuild
    assert len(_segments(store)) == 1
    assert len(store.search_text("common", 50)) == 23
    assert [i for i, _ in store.search_text("delta", 5)] == ["d.txt#0"]


def test_small_tables_rebuild_one_segment(tmp_path):
    store = LanceStore.create(tmp_path / "s", Manifest((ENC,), collection_root=str(tmp_path)))
    _commit(store, "a.txt", [f"alpha word{n}" for n in range(20)])
    store.ensure_text_index()
    _commit(store, "b.txt", ["bravo"])
    store.ensure_text_index()
    assert len(_segments(store)) == 1
    assert [i for i, _ in store.search_text("bravo", 5)] == ["b.txt#0"]
