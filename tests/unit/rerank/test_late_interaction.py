"""Late-interaction (MaxSim) reranking with the real bundled MiniLM (offline, small)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyseek import Engine
from polyseek.errors import ConfigError, EncoderError
from polyseek.rerank import RERANKER_BACKENDS, Candidate, load_reranker
from polyseek.rerank.late_interaction import LateInteractionReranker
from polyseek.samples import load_papers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "papers"


@pytest.fixture(scope="module")
def papers():
    return load_papers(FIXTURES)[:10]


@pytest.fixture(scope="module")
def reranker() -> LateInteractionReranker:
    r = load_reranker("late:minilm")
    assert isinstance(r, LateInteractionReranker)
    return r


def _abstracts(papers) -> list[Candidate]:
    return [Candidate(f"p{i}", "text", p.abstract) for i, p in enumerate(papers)]


def test_each_title_ranks_its_own_abstract_first(reranker, papers):
    # The first ten papers of the fixtures, each title against all ten abstracts. Dense
    # MiniLM (pooled vectors) puts paper 4's abstract ("Eyes Wide Shut? ...") 2nd, behind
    # paper 7's; token-level MaxSim gets all ten right.
    candidates = _abstracts(papers)
    for i, paper in enumerate(papers):
        scores = reranker.score(paper.title, candidates)
        assert len(scores) == len(candidates)
        best = max(range(len(scores)), key=scores.__getitem__)
        assert best == i, (paper.title, scores)
        assert all(-1.0 <= s <= 1.0 for s in scores)  # a mean of cosines


def test_scores_are_deterministic_and_independent_of_the_cache(reranker, papers):
    candidates = _abstracts(papers)
    query = papers[3].title
    first = reranker.score(query, candidates)
    assert reranker.score(query, candidates) == first  # served from the cache
    # Without the cache, in another order and batch size: the same scores (up to float
    # rounding from different padding); the model is shared, not loaded again.
    uncached = LateInteractionReranker("minilm", cache_mb=0, batch_size=3)
    assert uncached._st is reranker._st
    again = uncached.score(query, candidates[::-1])[::-1]
    assert again == pytest.approx(first, abs=1e-5)
    assert not uncached._cache


def test_candidates_without_text_go_last_and_an_empty_query_keeps_the_order(reranker, papers):
    candidates = [
        Candidate("a", "text", papers[0].abstract),
        Candidate("img", "image", ""),  # an image without OCR text
        Candidate("blank", "text", "  \n "),
        Candidate("b", "text", papers[1].abstract),
    ]
    scores = reranker.score(papers[1].title, candidates)
    assert scores[1] == scores[2] < min(scores[0], scores[3])
    assert scores[3] > scores[0]
    assert reranker.score("", candidates) == [0.0] * 4  # ties: the first-stage order stays
    assert reranker.score(papers[1].title, [Candidate("img", "image", "")]) == [0.0]


def test_long_text_is_truncated_to_the_model_limit(reranker, papers):
    assert reranker.max_tokens == 256
    long = Candidate("long", "text", papers[0].abstract + " filler words" * 5000)
    [score] = reranker.score(papers[0].title, [long])
    [plain] = reranker.score(papers[0].title, [Candidate("p", "text", papers[0].abstract)])
    # The abstract alone passes 256 tokens, so the filler is cut off entirely.
    assert 0.0 < score <= 1.0 and score == pytest.approx(plain, abs=1e-5)
    assert reranker.describe() == {
        "reranker": "late:minilm",
        "model_revision": reranker._encoder.info.revision,
        "max_tokens": "256",
    }


def test_unavailable_models_fail_fast_with_a_hint(tmp_path):
    assert "late" in RERANKER_BACKENDS
    with pytest.raises(EncoderError, match="late-interaction reranker model .* does not exist"):
        load_reranker(f"late:{tmp_path / 'no-such-model'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EncoderError, match="cannot load sentence-transformers model"):
        load_reranker(f"late:{empty}")
    # A hub name that is not cached: offline (set by conftest), it fails at once.
    with pytest.raises(EncoderError, match="not available locally") as info:
        load_reranker("late:nobody/no-such-colbert")
    assert "hf download nobody/no-such-colbert" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="bad reranker spec"):
        load_reranker("late:")


def test_plugs_into_engine_search(tmp_path, papers):
    root = tmp_path / "collection"
    root.mkdir()
    for n, paper in enumerate(papers):  # abstracts only: the title is the query
        (root / f"paper{n:02d}.txt").write_text(paper.abstract + "\n", encoding="utf-8")
    engine = Engine.open(root, create=True)
    engine.index()
    res = engine.search(papers[4].title, top=5, rerank=load_reranker("late:minilm"))
    assert res.query["rerank"] == "late:minilm"
    assert res.hits[0].source.endswith("paper04.txt")
    scores = [h.signals["late:minilm"] for h in res.hits]
    assert [h.score for h in res.hits] == scores == sorted(scores, reverse=True)
