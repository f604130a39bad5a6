"""The store's read caches (issue 12, item 4): the in-memory item catalog, the per-query
snapshot of table versions, ANN candidates re-scored from the loaded vectors. Whatever
they cache, a write by another store object (another process) must be seen by the next
read, rows of an unfinished write never, and a removed item never again."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from polyseek.encoders.base import EncoderInfo
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator, Passage

DIM = 16
ENC = EncoderInfo(spec="test:clusters", kind="text", revision="r1", dim=DIM)
KEY = ENC.key


def _batch(source: str, gen: str, vectors: np.ndarray, rows_per_item: int = 1) -> SourceBatch:
    """Items of one source; with ``rows_per_item`` > 1 each item has that many passages
    (consecutive rows of ``vectors``)."""
    n = len(vectors) // rows_per_item
    items = [
        StoredItem(
            id=f"{source}#{k}",
            source=source,
            gen=gen,
            modality="text",
            locator=Locator(char_start=k * 10, char_end=k * 10 + 10),
            text=f"text of {source} item {k} ({gen})",
            metadata={"k": k},
            passages=[Passage(0, 4), Passage(5, 7)] if rows_per_item > 1 else [],
        )
        for k in range(n)
    ]
    record = SourceRecord(source, "h" + gen, 1, 1, gen, "ok", n_items=n, indexed_at=0.0)
    ids = [it.id for it in items for _ in range(rows_per_item)]
    return SourceBatch([record], items, {KEY: (ids, vectors.astype(np.float32))})


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    centres = rng.normal(size=(20, DIM))  # structured: ANN is meaningful on them
    v = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, DIM))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path) -> LanceStore:
    s = LanceStore.create(tmp_path / "s", Manifest((ENC,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(3)
    for f in range(6):
        s.commit(_batch(f"f{f}.txt", "g1", _vectors(rng, 100)))
    return s


def _lookup(store: LanceStore, ids: list[str]) -> dict[str, StoredItem]:
    """get_items twice: the second reads the catalog built for this version."""
    store.get_items(ids)
    return store.get_items(ids)


def test_catalog_lookup_gives_what_the_filtered_read_gives(store):
    ids = ["f0.txt#3", "f2.txt#99", "f5.txt#0", "nope", "f2.txt#99"]
    first = store.get_items(ids)  # a version's first lookup: the filtered read
    second = store.get_items(ids)  # then the catalog and the texts by row id
    assert store._catalog is not None and len(store._catalog) == 600
    assert set(first) == set(second) == {"f0.txt#3", "f2.txt#99", "f5.txt#0"}
    for i in first:
        assert first[i] == second[i]  # every field, text and locator included
    assert second["f2.txt#99"].text == "text of f2.txt item 99 (g1)"
    assert store.get_items([]) == {}


def test_a_lookup_without_text_differs_only_in_the_text(store):
    """``get_items(text=False)`` (what the roll-up of a query reads) gives the same items
    with their texts left out once the catalog is built, and whole items before it."""
    ids = ["f0.txt#3", "f2.txt#99", "nope"]
    before = store.get_items(ids, text=False)  # the first lookup reads whole rows anyway
    full = store.get_items(ids)
    light = store.get_items(ids, text=False)
    assert store._catalog is not None
    assert before == full and set(light) == set(full) == {"f0.txt#3", "f2.txt#99"}
    for i, item in light.items():
        assert item.text == "" and item == dataclasses.replace(full[i], text="")


def test_catalog_keeps_passages_and_metadata(tmp_path):
    s = LanceStore.create(tmp_path / "p", Manifest((ENC,), collection_root=str(tmp_path)))
    s.commit(_batch("p.txt", "g1", _vectors(np.random.default_rng(0), 20), rows_per_item=2))
    item = _lookup(s, ["p.txt#4"])["p.txt#4"]
    assert item.passages == [Passage(0, 4), Passage(5, 7)] and item.metadata == {"k": 4}


def test_writes_by_another_store_are_seen_by_the_next_lookup(store):
    _lookup(store, ["f0.txt#1"])
    other = LanceStore.open(store.path)  # another process, in effect
    rng = np.random.default_rng(9)
    with other.writing():
        other.commit(_batch("new.txt", "g1", _vectors(rng, 5)))
        other.commit(_batch("f1.txt", "g2", _vectors(rng, 100)))  # re-indexed
        other.remove_sources(["f0.txt"])
    found = _lookup(store, ["new.txt#2", "f0.txt#1", "f1.txt#7"])
    assert set(found) == {"new.txt#2", "f1.txt#7"}
    assert found["f1.txt#7"].gen == "g2" and found["f1.txt#7"].text.endswith("(g2)")


def test_staged_rows_stay_invisible_to_every_cached_read(store):
    _lookup(store, ["f0.txt#1"])
    other = LanceStore.open(store.path)
    v = _vectors(np.random.default_rng(5), 10)
    other.stage(_batch("half.txt", "g1", v))  # written, never committed (a crash)
    other.stage(_batch("f3.txt", "g9", v))  # a new generation, never committed
    assert _lookup(store, ["half.txt#0"]) == {}
    assert _lookup(store, ["f3.txt#0"])["f3.txt#0"].gen == "g1"
    hits = store.search_vectors(KEY, v[:3], 10, exact=True)
    assert not any(i.startswith("half") for h in hits for i, _ in h)
    assert all(h[0][1] < 0.999 for h in hits)  # the staged copies of the queries are hidden


def test_one_snapshot_inside_reading_the_next_one_sees_the_commit(store):
    other = LanceStore.open(store.path)
    with store.reading():
        before = store.committed()
        view = store.vectors(KEY)
        other.commit(_batch("late.txt", "g1", _vectors(np.random.default_rng(2), 4)))
        assert store.committed() is before and "late.txt" not in store.committed()
        assert store.vectors(KEY) is view  # the snapshot's vectors, not the new ones
        assert store.get_items(["late.txt#0"]) == {}
        with store.reading():  # nested: still the outer snapshot
            assert "late.txt" not in store.committed()
    assert "late.txt" in store.committed()
    assert "late.txt#0" in set(store.vectors(KEY).ids)
    assert set(_lookup(store, ["late.txt#0"])) == {"late.txt#0"}


@pytest.fixture
def ann_store(tmp_path) -> LanceStore:
    s = LanceStore.create(tmp_path / "a", Manifest((ENC,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(4)
    for f in range(10):
        s.commit(_batch(f"f{f}.txt", "g1", _vectors(rng, 300)))
    s.build_ann_index(KEY)
    return s


def test_ann_rescored_from_memory_matches_exact_and_hides_removed_items(ann_store):
    s = ann_store
    view = s.vectors(KEY)  # loaded: the ANN path re-scores from it
    q = view.matrix[[0, 700, 2900]]
    ann = s.search_vectors(KEY, q, 10)
    exact = s.search_vectors(KEY, q, 10, exact=True)
    for a, e in zip(ann, exact, strict=True):
        assert a[0] == pytest.approx(e[0])  # a row finds itself first, at its exact score
        assert len({i for i, _ in a}) == 10
        assert [x for _, x in a] == sorted((x for _, x in a), reverse=True)
    removed = ann[0][0][0].split("#")[0]
    other = LanceStore.open(s.path)
    with other.writing():
        other.remove_sources([removed])
    after = s.search_vectors(KEY, q, 10)
    assert not any(i.startswith(removed + "#") for hits in after for i, _ in hits)
    assert all(len(hits) == 10 for hits in after)


def test_ann_rescored_keeps_to_the_asked_modalities(tmp_path):
    """One row an item: the index's candidate rows are re-scored directly, those of other
    modalities left out, as the exact search leaves them out."""
    s = LanceStore.create(tmp_path / "mm", Manifest((ENC,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(5)
    for f in range(8):
        batch = _batch(f"f{f}.txt", "g1", _vectors(rng, 300))
        if f % 2:
            batch.items[:] = [dataclasses.replace(it, modality="image") for it in batch.items]
        s.commit(batch)
    s.build_ann_index(KEY)
    view = s.vectors(KEY)
    q = view.matrix[[0, 400, 1000]]
    for mods in (("image",), ("text",), None):
        ann = s.search_vectors(KEY, q, 10, modalities=mods)
        exact = s.search_vectors(KEY, q, 10, modalities=mods, exact=True)
        for a, e in zip(ann, exact, strict=True):
            assert len(a) == 10 and a[0] == pytest.approx(e[0])
            kinds = {int(f.split(".")[0][1:]) % 2 for f, _ in a}
            if mods:
                assert kinds == {1 if mods == ("image",) else 0}


def test_ann_never_returns_rows_of_an_unfinished_write(ann_store):
    s = ann_store
    s.vectors(KEY)
    other = LanceStore.open(s.path)
    q = s.vectors(KEY).matrix[:2]
    other.stage(_batch("crash.txt", "g1", np.repeat(q, 20, axis=0)))  # right on the queries
    other.stage(_batch("f1.txt", "g7", np.repeat(q, 20, axis=0)))  # uncommitted generation
    stale = s.search_vectors(KEY, q, 10)  # the loaded view is older: LanceDB's refine
    s.vectors(KEY)  # the current view (as every query loads it): re-scored from memory
    for hits in [*stale, *s.search_vectors(KEY, q, 10)]:
        assert len(hits) == 10
        assert not any(i.startswith("crash") for i, _ in hits)
        found = s.get_items([i for i, _ in hits])
        assert all(it.gen == "g1" for it in found.values())


def test_ann_keeps_each_item_once_at_its_best_row(tmp_path):
    s = LanceStore.create(tmp_path / "m", Manifest((ENC,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(6)
    for f in range(5):
        s.commit(_batch(f"m{f}.txt", "g1", _vectors(rng, 600), rows_per_item=2))
    s.build_ann_index(KEY)
    view = s.vectors(KEY)
    q = view.matrix[[1, 1001]]  # each the second row of its item
    for row, hits in zip([1, 1001], s.search_vectors(KEY, q, 10), strict=True):
        ids = [i for i, _ in hits]
        assert len(ids) == len(set(ids)) == 10
        assert ids[0] == view.ids[row] and hits[0][1] == pytest.approx(1.0, abs=1e-5)


def test_bm25_through_the_catalog_gives_what_the_filtered_read_gives(store):
    store.ensure_text_index()
    plain = store.search_text("f2 item 7", 8)
    within = store.search_text("f2 item 7", 8, within=["f2.txt#7", "f4.txt#7"])
    _lookup(store, ["f0.txt#0"])  # the catalog of this version: BM25 reads row ids only
    assert store._current_catalog() is not None
    assert store.search_text("f2 item 7", 8) == plain
    assert store.search_text("f2 item 7", 8, within=["f2.txt#7", "f4.txt#7"]) == within
    assert plain[0][0] == "f2.txt#7" and {i for i, _ in within} == {"f2.txt#7", "f4.txt#7"}
    other = LanceStore.open(store.path)
    with other.writing():
        other.remove_sources(["f2.txt"])
    _lookup(store, ["f0.txt#0"])
    assert not any(i.startswith("f2.txt") for i, _ in store.search_text("f2 item 7", 8))
