"""Metrics come from trec_eval; check the names map to the right measures."""

from __future__ import annotations

import pytest

from polyseek.eval.metrics import METRIC_NAMES, mean, per_query


def test_known_values():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}}
    run = {
        "q1": {"x": 3.0, "a": 2.0, "y": 1.0},  # one of two relevant, at rank 2
        "q2": {"c": 5.0, "z": 1.0},  # the relevant one first
    }
    rows = per_query(qrels, run)
    assert rows["q1"]["hit@1"] == 0.0 and rows["q1"]["hit@5"] == 1.0
    assert rows["q1"]["recall@5"] == 0.5  # true recall: 1 of 2
    assert rows["q1"]["mrr@10"] == 0.5
    assert rows["q1"]["map"] == pytest.approx(0.25)
    assert rows["q2"]["ndcg@10"] == 1.0 and rows["q2"]["mrr@10"] == 1.0
    avg = mean(rows, METRIC_NAMES)
    assert avg["mrr@10"] == 0.75 and avg["hit@1"] == 0.5


def test_mrr_is_cut_at_10_and_empty_runs_score_zero():
    qrels = {"q1": {"rel": 1}, "q2": {"rel": 1}}
    deep = {f"d{i:02d}": float(100 - i) for i in range(12)}
    deep["rel"] = 100 - 11.5  # below all twelve others: rank 13
    rows = per_query(qrels, {"q1": deep, "q2": {}})
    assert rows["q1"]["mrr@10"] == 0.0
    assert rows["q1"]["map"] == pytest.approx(1 / 13)
    assert all(v == 0.0 for v in rows["q2"].values())


def test_our_order_is_kept_on_ties():
    # trec_eval breaks ties by doc id descending; the harness ranks by (score, id ascending).
    rows = per_query({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 1.0}})
    assert rows["q"]["hit@1"] == 1.0
