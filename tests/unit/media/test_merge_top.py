"""Merging adjacent moments must not shrink a result list below ``top``.

The engine ranks a few spare candidates past ``top`` when time-based items are in the
list, merges, then cuts; tested through :meth:`Engine.rank` on a real store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyseek.collection import Collection
from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.engine import Engine
from polyseek.search.base import Query, Ranking
from polyseek.search.cutoff import Cutoff
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator, item_id

DIM = 8
ENC = EncoderInfo(spec="test:moments", kind="text", revision="r1", dim=DIM)


def moments_engine(tmp_path: Path) -> tuple[Engine, np.ndarray]:
    """``run.mp4``: 4 back-to-back 1 s moments that all match; 9 other files match less."""
    rng = np.random.default_rng(0)
    store = LanceStore.create(tmp_path / "idx", Manifest((ENC,), collection_root=str(tmp_path)))
    query = np.eye(DIM, dtype=np.float32)[0]
    batch = SourceBatch()
    ids, vectors = [], []
    files = [("run.mp4", 4, 0.02)] + [(f"other{i}.mp4", 1, 1.0 + 0.1 * i) for i in range(9)]
    for source, n, noise in files:
        batch.records.append(SourceRecord(source, "h", 1, 1, "g1", "ok", n_items=n))
        for m in range(n):
            loc = Locator(start_s=float(m), end_s=float(m + 1))
            it = StoredItem(item_id(source, loc), source, "g1", "video", loc, f"{source} {m}", {})
            batch.items.append(it)
            ids.append(it.id)
            vectors.append(query + noise * rng.normal(size=DIM))
    batch.vectors[ENC.key] = (ids, l2_normalize(np.array(vectors, dtype=np.float32)))
    store.commit(batch)
    return Engine(Collection(tmp_path, store)), query


def test_merged_moments_still_fill_top(tmp_path: Path) -> None:
    engine, query = moments_engine(tmp_path)
    hits = engine.rank(Query(top=3), {ENC: query}).hits
    assert len(hits) == 3
    assert [h.rank for h in hits] == [1, 2, 3]
    first = hits[0]
    assert first.source == "run.mp4"
    assert (first.locator.start_s, first.locator.end_s) == (0.0, 4.0)
    assert len(first.metadata["merged"]) == 3
    # The two best other files follow (each its own hit), in score order.
    others = [i for i, _ in engine.store.search_vectors(ENC.key, query[None, :], 6)[0][4:]]
    assert [h.item_id for h in hits[1:]] == others


def test_a_cut_off_is_not_refilled(tmp_path: Path) -> None:
    """When the adaptive cut-off drops candidates, merging does not bring them back."""
    engine, query = moments_engine(tmp_path)
    cut = engine.rank(
        Query(top=6, ranking=Ranking(cutoff=Cutoff(mode="relative", threshold=0.6))), {ENC: query}
    ).hits
    plain = engine.rank(Query(top=6), {ENC: query}).hits
    assert len(plain) == 6
    # Scores ~1.0 (run.mp4 x4), 0.75, 0.45, ...: the cut keeps run.mp4's 4, merged into one.
    assert len(cut) == 1
    assert (cut[0].source, cut[0].locator.start_s, cut[0].locator.end_s) == ("run.mp4", 0.0, 4.0)
