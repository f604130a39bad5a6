"""Search over vector tables too large to hold in memory (issue 11: 15 GB at 10M x 384):
hybrid search, its exact fill of candidates, which items have text and the passage a hit
shows all read only the candidates' rows, and give what the in-memory path gives."""

from __future__ import annotations

import pytest

from polyseek import Engine
from tests.conftest import copy_papers

QUERIES = [
    "retrieval augmented generation",
    "image segmentation with transformers",
    "speech recognition",
    "graph neural networks for molecules",
    "reinforcement learning from human feedback",
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Engine:
    root = copy_papers(tmp_path_factory.mktemp("large") / "c", 100)
    engine = Engine.open(root, create=True)
    engine.index()
    for info in engine.encoder_infos:
        engine.store.build_ann_index(info.key)  # a large table's path: ANN, then the fill
    return engine


def _hits(engine: Engine, query: str) -> list[tuple[str, float, str, object]]:
    return [(h.item_id, h.score, h.snippet, h.locator) for h in engine.search(query, top=10).hits]


def test_a_table_too_large_to_hold_is_never_loaded_and_ranks_the_same(indexed):
    held = Engine.open(indexed.root)
    flat = Engine.open(indexed.root)
    flat.store.RESIDENT_VECTOR_BYTES = 0  # every table is "too large"
    asked: list[int] = []  # (a spy: how many items' rows each read asked for)
    read = flat.store.vectors_of
    flat.store.vectors_of = lambda key, ids: asked.append(len(ids)) or read(key, ids)  # type: ignore[method-assign]
    for q in QUERIES:
        for _ in range(2):  # the held engine loads its vectors on a version's second query
            want = _hits(held, q)
        got = _hits(flat, q)
        assert [g[0] for g in got] == [w[0] for w in want], q
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-4)
        assert [g[2:] for g in got] == [w[2:] for w in want]  # same passage, same box
    assert held.store._caches  # the in-memory path did hold the vectors
    assert not flat.store._caches  # the other never loaded the float32 matrix
    assert asked and max(asked) < 60  # candidates only, never all 100 items
