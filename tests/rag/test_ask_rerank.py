"""retrieve -> rerank -> answer: a cross-encoder reorders the evidence ask answers from.

The cross-encoder is a tiny random model saved by the test and loaded through the
same `cross-encoder:DIR` spec users give, so only the wiring is under test here.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.rag import ask
from polyseek.rag.evidence import retrieve
from polyseek.rerank import load_reranker
from polyseek.rerank.base import Candidate
from tests.helpers.tiny_rerankers import make_tiny_cross_encoder

QUESTION = "Which pretrained models does Flamingo bridge?"


def test_rerank_reorders_the_evidence(listings_engine, tmp_path) -> None:
    reranker = load_reranker(f"cross-encoder:{make_tiny_cross_encoder(tmp_path / 'ce')}")
    plain = retrieve(listings_engine, QUESTION, top=6)
    reranked = retrieve(listings_engine, QUESTION, top=6, rerank=reranker)
    assert [e.id for e in reranked] == list(range(1, len(reranked) + 1))
    # Evidence scores are now the reranker's, in descending order, for the same pool.
    scores = [e.score for e in reranked]
    assert scores == sorted(scores, reverse=True)
    # The reranker re-scores the dense candidates (its depth), it does not find new ones.
    assert {e.item_id for e in reranked} <= {
        e.item_id for e in retrieve(listings_engine, QUESTION, top=30)
    }
    assert len(reranked) == len(plain)
    # Each score is the reranker's for the item the search found (a page standing for
    # one of its layout regions, rag.evidence, carries the region's: compare the others).
    own = [e for e in reranked if e.locator.page is None]
    assert own
    expected = reranker.score(QUESTION, [Candidate(e.item_id, e.modality, e.text) for e in own])
    assert [round(s, 5) for s in expected] == [round(e.score, 5) for e in own]

    # The tiny reranker is random: the evidence it keeps need not hold the answer, and
    # sentence scores are absolute (penalties make them negative), so take any sentence.
    answer = ask(listings_engine, QUESTION, top=6, reranker=reranker, threshold=-10.0)
    assert [e.item_id for e in answer.evidence] == [e.item_id for e in reranked]
    assert answer.sentences and all(s.citations for s in answer.sentences)


def test_ask_cli_takes_a_reranker(listings_engine, tmp_path) -> None:
    ce = make_tiny_cross_encoder(tmp_path / "ce")
    result = CliRunner().invoke(
        app,
        [
            "ask",
            QUESTION,
            "-c",
            str(listings_engine.root),
            "--store",
            str(listings_engine.store.path),
            "--rerank",
            f"cross-encoder:{ce}",
            "--threshold",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answered"] and data["evidence"]
