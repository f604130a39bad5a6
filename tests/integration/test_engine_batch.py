"""search_batch embeds text queries together and answers exactly as one-by-one search."""

from __future__ import annotations

import pytest

from polyseek.engine import Engine
from polyseek.errors import QueryError
from polyseek.search.base import Query, Ranking
from tests.conftest import copy_small_collection


def test_batch_equals_single_searches(tmp_path):
    root = copy_small_collection(tmp_path / "c", n_papers=6)
    engine = Engine.open(root, create=True)
    engine.index()
    queries = [
        Query(text="pump housing bolts torque", top=5),
        Query(text="hallucination in vision-language models", top=3, modalities=("text",)),
        Query(text="receipt for spare parts", top=4, ranking=Ranking(lexical=True)),
    ]
    batch = engine.search_batch(queries)
    single = [engine.search_batch([q])[0] for q in queries]
    for b, s in zip(batch, single, strict=True):
        assert [(h.item_id, round(h.score, 5)) for h in b.hits] == [
            (h.item_id, round(h.score, 5)) for h in s.hits
        ]
    assert [len(r.hits) for r in batch] == [5, 3, 4]
    with pytest.raises(QueryError, match="empty"):
        engine.search_batch([queries[0], Query(text="  ")])
