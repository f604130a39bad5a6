"""Ranking options through the Engine: hybrid, lexical only, calibration, rerank, cut-off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek import Engine
from polyseek.errors import QueryError
from polyseek.rerank import load_reranker
from polyseek.samples import load_papers
from polyseek.search.calibration import calibration_path
from polyseek.search.cutoff import Cutoff
from tests.helpers.tiny_rerankers import make_tiny_cross_encoder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "papers"


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    root = tmp_path_factory.mktemp("ranking") / "collection"
    root.mkdir()
    for n, paper in enumerate(load_papers(FIXTURES)[:12]):
        (root / f"paper{n:02d}.txt").write_text(
            f"{paper.title}\n\n{paper.abstract}\n", encoding="utf-8"
        )
    eng = Engine.open(root, create=True)
    eng.index()
    return eng


@pytest.fixture(scope="module")
def papers():
    return load_papers(FIXTURES)[:12]


def test_index_builds_full_text_index_and_calibration(engine):
    assert engine.store.has_text_index()
    assert calibration_path(engine.store).is_file()


def test_hybrid_hits_explain_both_signals(engine, papers):
    res = engine.search(papers[3].title, top=5, lexical=True)
    assert res.hits[0].source == "paper03.txt"
    assert set(res.hits[0].signals) == {"minilm", "lexical"}
    assert res.query["lexical"] is True


def test_lexical_only(engine, papers):
    res = engine.search(papers[5].title, top=3, lexical=True, dense=False)
    assert res.hits[0].source == "paper05.txt"
    assert all(set(h.signals) == {"lexical"} for h in res.hits)
    with pytest.raises(QueryError, match="dense or lexical"):
        engine.search("x", dense=False, lexical=False)


def test_calibrated_search_ranks_by_standardised_scores(engine, papers):
    plain = engine.search(papers[7].title, top=5, lexical=False)
    calibrated = engine.search(papers[7].title, top=5, lexical=False, calibrate=True)
    assert calibrated.hits[0].source == plain.hits[0].source == "paper07.txt"
    # One modality here: standardising keeps the order but changes the scale.
    assert [h.item_id for h in calibrated.hits] == [h.item_id for h in plain.hits]
    assert calibrated.hits[0].score > 1.0 > plain.hits[0].score


def test_cutoff_returns_fewer_hits(engine, papers):
    full = engine.search(papers[1].title, top=8)
    cut = engine.search(papers[1].title, top=8, cutoff=Cutoff("relative", 1.0))
    assert len(full.hits) == 8 and len(cut.hits) == 1
    assert cut.hits[0].item_id == full.hits[0].item_id


def test_rerank_reorders_the_head_by_reranker_scores(engine, papers, tmp_path):
    reranker = load_reranker(f"cross-encoder:{make_tiny_cross_encoder(tmp_path / 'ce')}")
    res = engine.search(papers[2].title, top=5, rerank=reranker, rerank_depth=10)
    assert len(res.hits) == 5
    scores = [h.signals[reranker.name] for h in res.hits]
    assert scores == sorted(scores, reverse=True)
    assert [h.score for h in res.hits] == scores
    assert res.query["rerank"] == reranker.name


def test_rerank_weight_mixes_reranker_and_first_stage_scores(engine, papers):
    reranker = load_reranker("late:minilm")
    query = papers[2].title
    first = engine.search(query, top=8)
    alone = engine.search(query, top=8, rerank=reranker, rerank_depth=8)
    none = engine.search(query, top=8, rerank=reranker, rerank_depth=8, rerank_weight=0.0)
    half = engine.search(query, top=8, rerank=reranker, rerank_depth=8, rerank_weight=0.5)
    ids = [h.item_id for h in first.hits]
    # Weight 0 keeps the first stage's order; the reranker's own score is still reported.
    assert [h.item_id for h in none.hits] == ids
    assert all(reranker.name in h.signals for h in none.hits)
    # Weight 0.5: the mean of both scores, each standardised over the head.
    first_score = {h.item_id: h.score for h in first.hits}
    late = {h.item_id: h.signals[reranker.name] for h in half.hits}

    def z(values):
        a = np.array(values)
        return (a - a.mean()) / a.std()

    mixed = 0.5 * z([late[i] for i in ids]) + 0.5 * z([first_score[i] for i in ids])
    expected = dict(zip(ids, mixed, strict=True))
    assert [h.score for h in half.hits] == pytest.approx([expected[h.item_id] for h in half.hits])
    assert [h.score for h in half.hits] == sorted((h.score for h in half.hits), reverse=True)
    assert half.query["rerank_weight"] == 0.5 and "rerank_weight" not in alone.query
    with pytest.raises(QueryError, match="rerank_weight"):
        engine.search(query, rerank=reranker, rerank_weight=1.5)
