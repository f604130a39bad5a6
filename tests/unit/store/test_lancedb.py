"""The store on its own: commit protocol, visibility, removal, recovery, exact search."""

from __future__ import annotations

import numpy as np
import pytest

from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.errors import CollectionNotFoundError, StoreError
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator

DIM = 8
ENC = EncoderInfo(spec="test:enc", kind="text", revision="r1", dim=DIM)


def make_store(tmp_path) -> LanceStore:
    return LanceStore.create(tmp_path / "idx", Manifest((ENC,), collection_root=str(tmp_path)))


def batch_for(sources: dict[str, int], gen: str, rng: np.random.Generator) -> SourceBatch:
    """A batch with ``n`` text items for each source, all of generation ``gen``."""
    batch = SourceBatch()
    for source, n in sources.items():
        batch.records.append(
            SourceRecord(source, "h-" + gen, 10, 1, gen, "ok", n_items=n, indexed_at=1.0)
        )
        for i in range(n):
            loc = Locator(char_start=i * 10, char_end=i * 10 + 10)
            batch.items.append(
                StoredItem("", source, gen, "text", loc, f"{source} chunk {i}", {}, None)
            )
    for it in batch.items:
        from polyseek.types import item_id

        it.id = item_id(it.source, it.locator)
    vectors = l2_normalize(rng.normal(size=(len(batch.items), DIM)))
    batch.vectors[ENC.key] = ([it.id for it in batch.items], vectors)
    return batch


def raw_rows(store: LanceStore, table: str) -> int:
    return store.table_rows()[table]


def test_open_missing_store_says_how_to_create(tmp_path):
    with pytest.raises(CollectionNotFoundError, match="polyseek index DIR"):
        LanceStore.open(tmp_path / "nothing")


def test_commit_makes_items_visible_and_searchable(tmp_path):
    rng = np.random.default_rng(0)
    store = make_store(tmp_path)
    batch = batch_for({"a.txt": 3, "b.txt": 2}, "g1", rng)
    store.commit(batch)
    assert store.counts() == {"text": 5}
    ids, vectors = batch.vectors[ENC.key]
    hits = store.search_vectors(ENC.key, vectors[:2], k=3)
    assert [h[0][0] for h in hits] == ids[:2]
    assert hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    reopened = LanceStore.open(store.path)
    assert set(reopened.sources()) == {"a.txt", "b.txt"}
    assert set(reopened.get_items(ids)) == set(ids)


def test_search_matches_numpy_exact_and_filters_modality(tmp_path):
    rng = np.random.default_rng(1)
    store = make_store(tmp_path)
    batch = batch_for({f"f{i}.txt": 5 for i in range(20)}, "g1", rng)
    for it in batch.items[:10]:
        it.modality = "image"
    store.commit(batch)
    ids, vectors = batch.vectors[ENC.key]
    q = l2_normalize(rng.normal(size=(3, DIM)))
    expected = np.argsort(-(q @ vectors.T), axis=1)[:, :7]
    got = store.search_vectors(ENC.key, q, k=7)
    for row, exp in zip(got, expected, strict=True):
        assert [i for i, _ in row] == [ids[j] for j in exp]
    images = store.search_vectors(ENC.key, q, k=50, modalities=["image"])[0]
    assert len(images) == 10
    assert {i for i, _ in images} == set(ids[:10])


def test_recommit_replaces_old_generation(tmp_path):
    rng = np.random.default_rng(2)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 4}, "g1", rng))
    store.commit(batch_for({"a.txt": 2}, "g2", rng))
    assert store.counts() == {"text": 2}
    assert raw_rows(store, "items") == 2
    assert raw_rows(store, ENC.key) == 2
    assert store.sources()["a.txt"].gen == "g2"


def test_uncommitted_rows_are_invisible_and_recovered(tmp_path):
    """Simulates a crash between writing items and committing their source record."""
    rng = np.random.default_rng(3)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 3}, "g1", rng))
    crashed = batch_for({"a.txt": 5, "b.txt": 2}, "g2", rng)
    store.stage(crashed)  # items and vectors written, the commit point never reached
    ids, vectors = crashed.vectors[ENC.key]
    # Readers see only generation g1 of a.txt.
    assert store.counts() == {"text": 3}
    assert len(store.search_vectors(ENC.key, vectors[:1], k=100)[0]) == 3
    removed = store.recover()
    assert removed == 2 * 7
    assert raw_rows(store, "items") == 3
    assert raw_rows(store, ENC.key) == 3
    assert store.recover() == 0


def test_remove_sources(tmp_path):
    rng = np.random.default_rng(4)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 2, "d/b.txt": 2, "d/c.txt": 1}, "g1", rng))
    assert store.remove_sources(["d/b.txt", "d/c.txt", "unknown"]) == 2
    assert set(store.sources()) == {"a.txt"}
    assert raw_rows(store, "items") == 2 and raw_rows(store, ENC.key) == 2


def test_failed_source_hides_previous_items(tmp_path):
    rng = np.random.default_rng(5)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 2}, "g1", rng))
    failed = SourceBatch(records=[SourceRecord("a.txt", "h", 1, 2, "g2", "failed", "corrupt")])
    store.commit(failed)
    assert store.counts() == {}
    assert store.sources()["a.txt"].error == "corrupt"


def test_single_writer_lock(tmp_path):
    store = make_store(tmp_path)
    other = LanceStore.open(store.path)
    with store.writing(), pytest.raises(StoreError, match="another process"), other.writing():
        pass
    with other.writing():  # released
        pass


def test_wrong_vector_dim_is_refused(tmp_path):
    rng = np.random.default_rng(6)
    store = make_store(tmp_path)
    batch = batch_for({"a.txt": 2}, "g1", rng)
    ids, _ = batch.vectors[ENC.key]
    batch.vectors[ENC.key] = (ids, np.zeros((2, DIM + 1), np.float32))
    with pytest.raises(StoreError, match="dim 8"):
        store.commit(batch)
