"""Retrieval metrics from trec_eval (through ``pytrec_eval``), not hand-written.

Names in results:

* ``hit@k``      at least one relevant item in the top k (trec_eval ``success.k``; the
  "recall@k" UniIR reports for M-BEIR)
* ``recall@k``   share of the relevant items found in the top k (``recall.k``)
* ``ndcg@10``    ``ndcg_cut.10``
* ``mrr@10``     reciprocal rank of the first relevant item within the top 10
  (``recip_rank`` on the run cut to 10)
* ``map``        mean average precision over the whole run (``map``)

trec_eval orders a run by score, then by document id (descending) for ties.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from polyseek.errors import MissingDependencyError

CUTOFFS = (1, 5, 10)
CURVE_CUTOFFS = tuple(range(1, 21))
PRIMARY_METRIC = "ndcg@10"
METRIC_NAMES = (
    *(f"hit@{k}" for k in CUTOFFS),
    *(f"recall@{k}" for k in CUTOFFS),
    "ndcg@10",
    "mrr@10",
    "map",
)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def _evaluator(qrels: Qrels, measures: set[str]):  # type: ignore[no-untyped-def]
    try:
        import pytrec_eval
    except ImportError as exc:
        raise MissingDependencyError(
            "metrics need pytrec_eval", hint="pip install pytrec-eval-terrier"
        ) from exc
    return pytrec_eval.RelevanceEvaluator(
        {q: dict(d) for q, d in qrels.items()}, measures, relevance_level=1
    )


def _cut(run: Run, k: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        ranked = sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]
        out[qid] = dict(ranked)
    return out


def _as_trec_run(run: Run) -> dict[str, dict[str, float]]:
    """Scores from ranks, so trec_eval keeps our order exactly (its tie-break differs)."""
    out: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        ranked = sorted(scores.items(), key=lambda x: (-x[1], x[0]))
        out[qid] = {did: float(len(ranked) - i) for i, (did, _) in enumerate(ranked)}
    return out


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """Every metric of :data:`METRIC_NAMES` for every judged query (missing run: zeros)."""
    judged = {q: d for q, d in qrels.items() if any(r > 0 for r in d.values())}
    trec_run = _as_trec_run({q: run.get(q, {}) for q in judged})
    # trec_eval drops queries with an empty run; give them a dummy non-relevant row.
    for scores in trec_run.values():
        if not scores:
            scores["__none__"] = 0.0
    measures = {
        "success." + ",".join(map(str, sorted({*CUTOFFS, *CURVE_CUTOFFS}))),
        "recall." + ",".join(map(str, sorted({*CUTOFFS, *CURVE_CUTOFFS}))),
        "ndcg_cut.10",
        "map",
    }
    full = _evaluator(judged, measures).evaluate(trec_run)
    mrr = _evaluator(judged, {"recip_rank"}).evaluate(_cut(trec_run, 10))
    out: dict[str, dict[str, float]] = {}
    for qid in sorted(judged):
        m = full[qid]
        row = {f"hit@{k}": m[f"success_{k}"] for k in CURVE_CUTOFFS}
        row.update({f"recall@{k}": m[f"recall_{k}"] for k in CURVE_CUTOFFS})
        row["ndcg@10"] = m["ndcg_cut_10"]
        row["mrr@10"] = mrr[qid]["recip_rank"]
        row["map"] = m["map"]
        out[qid] = row
    return out


def mean(rows: Mapping[str, Mapping[str, float]], names: tuple[str, ...]) -> dict[str, float]:
    """Mean over queries of each named metric, rounded to 6 places (stable in JSON)."""
    if not rows:
        return {n: 0.0 for n in names}
    return {n: round(float(np.mean([r[n] for r in rows.values()])), 6) for n in names}


__all__ = ["CURVE_CUTOFFS", "CUTOFFS", "METRIC_NAMES", "PRIMARY_METRIC", "mean", "per_query"]
