"""The hybrid rule: weighted z-scores of the dense and lexical lists."""

from __future__ import annotations

import pytest

from polyseek.errors import QueryError
from polyseek.search.base import Fused, Query, Ranking
from polyseek.search.fusion import ReciprocalRankFusion
from polyseek.search.hybrid import linear_fusion
from polyseek.search.pipeline import SearchPipeline

DENSE = [
    Fused("a", 0.80, {"enc": 0.80}),
    Fused("b", 0.79, {"enc": 0.79}),
    Fused("c", 0.20, {"enc": 0.2}),
]
LEXICAL = [("b", 12.0), ("d", 2.0), ("a", 1.0)]


def test_score_gaps_count_not_just_ranks():
    out = linear_fusion(DENSE, LEXICAL, 4)
    # b is nearly tied with a in dense and far ahead in BM25: it wins.
    assert [f.item_id for f in out][:2] == ["b", "a"]
    assert out[0].signals == {"enc": 0.79, "lexical": 12.0}
    # An item found by one list only gets the other list's floor, so it trails.
    assert set(out[-1].signals) in ({"lexical"}, {"enc"})
    scores = [f.score for f in out]
    assert scores == sorted(scores, reverse=True)


def test_weights_move_the_mix():
    dense_only = linear_fusion(DENSE, LEXICAL, 3, lexical_weight=0.0)
    assert [f.item_id for f in dense_only] == ["a", "b", "c"]
    lexical_only = linear_fusion(DENSE, LEXICAL, 3, lexical_weight=1.0)
    assert [f.item_id for f in lexical_only] == ["b", "d", "a"]


def test_empty_lists_and_rrf_switch():
    assert [f.item_id for f in linear_fusion([], LEXICAL, 2)] == ["b", "d"]
    assert linear_fusion(DENSE, [], 2) == DENSE[:2]
    lists = {"enc": [(f.item_id, f.score) for f in DENSE], "lexical": LEXICAL}
    pipeline = SearchPipeline(store=None)  # type: ignore[arg-type]  (fusion reads no store)
    rrf = pipeline.fuse(Query(text="q", ranking=Ranking(lexical=True, fusion="rrf")), lists, 3)
    assert rrf == ReciprocalRankFusion().fuse(lists, 3)
    with pytest.raises(QueryError, match="unknown fusion 'max'"):
        pipeline.fuse(Query(text="q", ranking=Ranking(lexical=True, fusion="max")), lists, 3)
