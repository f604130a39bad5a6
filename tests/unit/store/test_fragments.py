"""Vector rows written as Lance fragments by another process, staged by the writer:
invisible until their source records are committed, recovered if that never happens,
searchable like rows the store stages itself (what Ray embedding actors do)."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest

from polyseek.store.base import SourceBatch
from polyseek.store.fragments import FragmentTarget, RowOwner, vector_rows, write_fragments
from polyseek.store.lancedb import LanceStore
from tests.unit.store.test_lancedb import ENC, batch_for, make_store, raw_rows

pytest.importorskip("lance")


def _written_elsewhere(target: FragmentTarget, batch: SourceBatch) -> list[str]:
    """The fragments of ``batch``'s vectors, written by a separate process (a worker)."""
    by_id = {it.id: it for it in batch.items}
    ids, vectors = batch.vectors[ENC.key]
    owners = [RowOwner(i, by_id[i].source, by_id[i].gen, by_id[i].modality) for i in ids]
    payload = pickle.dumps((target, vector_rows(target.dim, target.schema, owners, vectors, "t")))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_worker, (payload,))


def _worker(payload: bytes) -> list[str]:
    target, rows = pickle.loads(payload)
    return write_fragments(target, rows)


def _without_vectors(batch: SourceBatch) -> SourceBatch:
    return SourceBatch(records=batch.records, items=batch.items)


def test_fragments_from_a_worker_become_visible_with_their_records(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 2}, "g1", rng))
    batch = batch_for({"b.txt": 3, "c.txt": 1}, "g2", rng)
    fragments = _written_elsewhere(store.fragment_target(ENC.key), batch)
    assert fragments
    assert raw_rows(store, ENC.key) == 2  # written, but in no manifest yet

    store.append_fragments(ENC.key, fragments)
    assert raw_rows(store, ENC.key) == 6  # staged ...
    ids, vectors = batch.vectors[ENC.key]
    assert len(store.search_vectors(ENC.key, vectors[:1], k=100)[0]) == 2  # ... invisible

    store.commit(_without_vectors(batch))  # the commit point: the records
    assert store.counts() == {"text": 6}
    hits = store.search_vectors(ENC.key, vectors, k=1)
    assert [h[0][0] for h in hits] == ids
    assert hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert LanceStore.open(store.path).counts() == {"text": 6}


def test_fragments_of_a_run_that_never_committed_are_recovered(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = make_store(tmp_path)
    store.commit(batch_for({"a.txt": 2}, "g1", rng))
    crashed = batch_for({"a.txt": 4}, "g2", rng)  # a re-index of a.txt, killed before commit
    store.append_fragments(ENC.key, _written_elsewhere(store.fragment_target(ENC.key), crashed))
    assert store.counts() == {"text": 2}
    assert store.recover() == 4
    assert raw_rows(store, ENC.key) == 2
    assert store.recover() == 0


def test_vector_rows_refuse_a_wrong_shape() -> None:
    from polyseek.errors import StoreError
    from polyseek.store.lancedb import vector_schema

    owners = [RowOwner("x", "a.txt", "g", "text")]
    with pytest.raises(StoreError, match="want dim 8"):
        vector_rows(8, vector_schema(8), owners, np.zeros((1, 4), np.float32), "test:enc")
