"""Equal scores come out in item-id order, whatever order the rows were written in
(issue 15, item 11): exact search, a compressed first pass and fusion (the ANN path
sorts LanceDB's rows the same way)."""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.search.hybrid import Signal, rrf_fusion, zscore_fusion
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.store.multivector import top_unique
from polyseek.types import Locator, item_id

DIM = 8
ENC = EncoderInfo(spec="test:ties", kind="text", revision="r1", dim=DIM)


def store_with(tmp_path, name: str, order: list[int], vectors: np.ndarray) -> LanceStore:
    """One source per vector, committed one by one in ``order``."""
    store = LanceStore.create(tmp_path / name, Manifest((ENC,), collection_root=str(tmp_path)))
    for n in order:
        source = f"f{n:03d}.txt"
        loc = Locator(char_start=0, char_end=1)
        it = StoredItem(item_id(source, loc), source, "g", "text", loc, "same words", {}, None)
        rec = SourceRecord(source, "h", 1, 1, "g", "ok", n_items=1, indexed_at=1.0)
        store.commit(SourceBatch([rec], [it], {ENC.key: ([it.id], vectors[n : n + 1])}))
    return store


def test_equal_scores_keep_one_order_across_indexes(tmp_path) -> None:
    rng = np.random.default_rng(0)
    base = l2_normalize(rng.normal(size=(4, DIM)))
    vectors = np.repeat(base, 6, axis=0).astype(np.float32)  # groups of six equal vectors
    n = len(vectors)
    forward = store_with(tmp_path, "a", list(range(n)), vectors)
    backward = store_with(tmp_path, "b", list(reversed(range(n))), vectors)
    query = vectors[:1]
    for kwargs in ({"exact": True}, {"first_pass": "truncate:4"}, {"first_pass": "binary"}):
        for k in (3, 7, 10):
            a = forward.search_vectors(ENC.key, query, k, **kwargs)[0]
            b = backward.search_vectors(ENC.key, query, k, **kwargs)[0]
            assert a == b, kwargs
            tied = [i for i, s in a if np.isclose(s, a[0][1])]
            assert tied == sorted(tied)


def test_top_unique_takes_every_row_tied_at_the_cut() -> None:
    scores = np.array([0.75, 0.5, 0.5, 0.5, 0.25], dtype=np.float32)
    ids = np.array(["e", "d", "b", "c", "a"], dtype=object)
    assert top_unique(scores, ids, 2) == [("e", 0.75), ("b", 0.5)]
    assert top_unique(scores[::-1].copy(), ids[::-1].copy(), 2) == [("e", 0.75), ("b", 0.5)]


def test_fusion_breaks_ties_by_id() -> None:
    x = Signal("x", [("b", 1.0), ("a", 1.0)])
    y = Signal("y", [("a", 1.0), ("b", 1.0)])
    assert [f.item_id for f in rrf_fusion([x, y], 2)] == ["a", "b"]
    # every candidate equal on both signals: z-scores are all zero, order is by id
    dense = Signal("dense", [("b", 0.5), ("a", 0.5), ("d", 0.5), ("c", 0.5)])
    bm25 = Signal("bm25", [("d", 1.0), ("c", 1.0), ("b", 1.0), ("a", 1.0)])
    fused = zscore_fusion([dense, bm25], 4)
    assert [f.item_id for f in fused] == ["a", "b", "c", "d"]
