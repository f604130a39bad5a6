"""Fusion: weighted z-scores over the union of the candidates, with true values filled in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek import Engine
from polyseek.errors import QueryError
from polyseek.search.base import Query, Ranking
from polyseek.search.hybrid import Signal, rrf_fusion, standardise, zscore_fusion
from polyseek.search.pipeline import SearchPipeline

DENSE = [("a", 0.80), ("b", 0.79), ("c", 0.20)]
LEXICAL = [("b", 12.0), ("d", 2.0), ("a", 1.0)]


def test_score_gaps_count_not_just_ranks() -> None:
    out = zscore_fusion([Signal("enc", DENSE), Signal("lexical", LEXICAL)], 4)
    # b is nearly tied with a in dense and far ahead in BM25: it wins.
    assert [f.item_id for f in out][:2] == ["b", "a"]
    assert out[0].signals == {"enc": 0.79, "lexical": 12.0}
    scores = [f.score for f in out]
    assert scores == sorted(scores, reverse=True)


def test_missing_values_are_filled_where_known() -> None:
    exact = {"d": 0.75}  # d was not in the dense list, but its cosine is known
    dense = Signal("enc", DENSE, fill=lambda ids: {i: exact[i] for i in ids if i in exact})
    lexical = Signal("lexical", LEXICAL, absent=0.0)  # the list ended: c has BM25 0
    out = {f.item_id: f for f in zscore_fusion([dense, lexical], 4)}
    assert out["d"].signals == {"enc": 0.75, "lexical": 2.0}
    assert out["c"].signals == {"enc": 0.2, "lexical": 0.0}


def test_an_item_a_signal_cannot_score_is_not_pulled_down() -> None:
    """A picture has no text: BM25 says nothing about it (not 'no match')."""
    has_text = {"a", "b", "c", "d"}
    lexical = Signal("lexical", LEXICAL, absent=0.0, covers=has_text.intersection)
    dense = Signal("enc", [*DENSE, ("pic", 0.5)])
    out = {f.item_id: f for f in zscore_fusion([dense, lexical], 5)}
    assert "lexical" not in out["pic"].signals
    assert out["c"].signals["lexical"] == 0.0
    assert out["pic"].score > out["c"].score  # c matches no word; pic just has no text


def test_a_lone_lexical_match_stands_out() -> None:
    """Issue 15.10: with one BM25 candidate the old z-score spread was 0."""
    dense = Signal("enc", [(f"x{i}", 0.5 - 0.001 * i) for i in range(50)] + [("rare", 0.3)])
    lexical = Signal("lexical", [("rare", 7.5)], absent=0.0)
    assert zscore_fusion([dense, lexical], 10)[0].item_id == "rare"
    assert standardise([3.0]).tolist() == [0.0]


def test_weights_move_the_mix() -> None:
    dense_only = zscore_fusion([Signal("enc", DENSE, 1.0), Signal("lexical", LEXICAL, 0.0)], 3)
    assert [f.item_id for f in dense_only][:2] == ["a", "b"]
    lexical = Signal("lexical", LEXICAL, 1.0, absent=0.0)
    lexical_only = zscore_fusion([Signal("enc", DENSE, 0.0), lexical], 3)
    assert [f.item_id for f in lexical_only] == ["b", "d", "a"]


def test_rrf_is_weighted_reciprocal_ranks() -> None:
    out = rrf_fusion([Signal("enc", DENSE, 1.0), Signal("lexical", LEXICAL, 1.0)], 4)
    assert out[0].item_id == "b"  # 1/62 + 1/61 beats a's 1/61 + 1/63
    assert out[0].score == pytest.approx(1 / 62 + 1 / 61)
    halved = rrf_fusion([Signal("enc", DENSE, 1.0), Signal("lexical", LEXICAL, 0.5)], 4)
    assert halved[0].item_id == "a"


def test_single_list_keeps_raw_scores_and_bad_fusion_is_refused() -> None:
    pipeline = SearchPipeline(store=None)  # type: ignore[arg-type]  (fusion reads no store)
    q = Query(text="q", ranking=Ranking(lexical=True))
    assert pipeline.fuse(q, [Signal("enc", DENSE), Signal("lexical", [])], 2)[0].score == 0.8
    with pytest.raises(QueryError, match="unknown fusion 'max'"):
        Query(text="q", ranking=Ranking(lexical=True, fusion="max"))


def test_bm25_takes_its_share_of_a_composed_query_text_only(tmp_path: Path) -> None:
    """image_weight is the picture's share: BM25, which reads only the words, gets
    lexical_weight of the rest (it took 0.7 of everything and outvoted the picture)."""
    from PIL import Image

    from tests.helpers.ranking_store import ENC, add_items, make_store

    store = make_store(tmp_path / "idx")
    add_items(
        store,
        [("a.txt", "text", "blue pump", [1, 0, 0, 0]), ("b.txt", "text", "red", [0, 1, 0, 0])],
    )
    store.ensure_text_index()
    pipeline = SearchPipeline(store)
    vectors = {ENC: np.array([1.0, 0.0, 0.0, 0.0], np.float32)}
    picture = Image.new("RGB", (8, 8))

    def weights(**kw: object) -> dict[str, float]:
        q = Query(text="blue", ranking=Ranking(calibrate=False), **kw)  # type: ignore[arg-type]
        return {s.name: s.weight for s in pipeline.candidates(q, vectors, 5)}

    assert weights() == pytest.approx({ENC.spec: 0.3, "lexical": 0.7})
    assert weights(image=picture, image_weight=0.5) == pytest.approx(
        {ENC.spec: 0.65, "lexical": 0.35}
    )
    assert weights(image=picture, image_weight=0.0) == pytest.approx(weights())
    assert weights(image=picture, image_weight=1.0) == {ENC.spec: 1.0}  # no words to match
    # So the picture alone keeps its raw scores, as an image query does.
    q = Query(text="blue", image=picture, image_weight=1.0, ranking=Ranking(calibrate=False))
    fused = pipeline.fuse(q, pipeline.candidates(q, vectors, 5), 5)
    assert fused[0].score == pytest.approx(1.0) and set(fused[0].signals) == {ENC.spec}


@pytest.mark.slow
def test_hybrid_finds_the_one_file_with_a_rare_token(tmp_path: Path) -> None:
    """Issue 15.10: a token in one file only: BM25 puts it first; hybrid must too."""
    root = tmp_path / "c"
    root.mkdir()
    topics = ["pumps", "valves", "filters", "gaskets", "bearings"]
    for n in range(40):
        topic = topics[n % len(topics)]
        words = f"maintenance of {topic} in the pump room, step {n}: check the {topic} weekly"
        (root / f"note{n:02d}.txt").write_text(words + ".\n", encoding="utf-8")
    rare = [f"zq{n}x7" for n in range(20)]
    for n, token in enumerate(rare):
        path = root / f"note{n * 2:02d}.txt"
        path.write_text(path.read_text() + f"Part number {token} is stocked.\n")
    engine = Engine.open(root, create=True)
    engine.index()
    hits = 0
    for n, token in enumerate(rare):
        lexical = engine.search(token, top=10, lexical=True, dense=False).hits
        assert lexical[0].source == f"note{n * 2:02d}.txt"
        hybrid = engine.search(token, top=10, lexical=True).hits
        hits += hybrid[0].source == f"note{n * 2:02d}.txt"
    assert hits == len(rare)
