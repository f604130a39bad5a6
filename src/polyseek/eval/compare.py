"""Paired comparison of two evaluation results: is a difference more than noise?

Both results must come from the same dataset (the same judged queries). For every pool,
task and metric the per-query values of the two runs are paired and tested:

* hit@k (0/1 per query): exact McNemar test, i.e. a two-sided binomial test on the
  queries that one run finds and the other misses (``scipy.stats.binomtest``);
* every other metric (MRR, nDCG, recall, MAP, target-modality share): a paired
  randomisation test flipping the sign of per-query differences
  (``scipy.stats.permutation_test``, exact for up to 2**13 sign patterns, otherwise
  10,000 seeded resamples), with a seeded 95 % bootstrap interval of the mean difference.

Many metrics and tasks are tested at once, so each comparison also carries a Holm
step-down adjusted p-value over all tests in it; "significant" uses the adjusted one. A
task whose local pool is the union (BEIR) is tested once, so it does not count twice.

>>> from polyseek.eval.compare import compare   # doctest: +SKIP
>>> table = compare(json.load(open("raw.json")), json.load(open("calibrated.json")))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from polyseek.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "target_share@10")
ALPHA = 0.05
RESAMPLES = 10_000
EXACT_UP_TO = 13  # queries with a non-zero difference; 2**13 sign patterns


@dataclass(frozen=True)
class Difference:
    pool: str
    task: str
    metric: str
    queries: int
    base: float
    other: float
    delta: float
    better: int  # queries where the other run scores higher
    worse: int  # ... lower
    test: str
    p: float
    p_holm: float = 1.0
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def _mcnemar(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import binomtest

    gained, lost = int(np.sum((b > 0) & (a <= 0))), int(np.sum((a > 0) & (b <= 0)))
    if gained + lost == 0:
        return 1.0
    return float(binomtest(gained, gained + lost, 0.5).pvalue)


def _randomisation(diff: np.ndarray, seed: int) -> tuple[float, float, float]:
    """p-value of a mean paired difference of zero, and a 95 % bootstrap interval."""
    from scipy.stats import bootstrap, permutation_test

    nonzero = diff[diff != 0]
    if nonzero.size == 0:
        return 1.0, 0.0, 0.0
    # Flipping the sign of a difference = swapping the pair; permutation_type="samples"
    # with one sample does exactly that.
    test = permutation_test(
        (nonzero,),
        np.mean,
        permutation_type="samples",
        n_resamples=np.inf if nonzero.size <= EXACT_UP_TO else RESAMPLES,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    if np.all(diff == diff[0]):
        low = high = float(diff[0])
    else:
        ci = bootstrap(
            (diff,),
            np.mean,
            n_resamples=RESAMPLES // 2,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        low, high = float(ci.low), float(ci.high)
    return float(test.pvalue), low, high


def _sig(p: float) -> float:
    """p-values keep four significant digits (rounding places would turn 3e-9 into 0)."""
    return float(f"{p:.4g}")


def _holm(ps: Sequence[float]) -> list[float]:
    """Holm step-down adjustment (controls the family-wise error rate)."""
    order = np.argsort(ps, kind="stable")
    adjusted = [1.0] * len(ps)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def _same_as(result: Mapping[str, Any], pool: str, entry: Mapping[str, Any]) -> str | None:
    """The pool whose results ``entry`` repeats: a task without a local pool (BEIR) is
    searched in the union, so its local results are the union's (older results: BEIR's
    local pool, which lacks the mark)."""
    named = entry.get("same_as")
    if named is None and pool == "local" and result.get("dataset", {}).get("format") == "beir":
        named = "union"
    return named if named in result.get("pools", {}) and named != pool else None


def _tasks(result: Mapping[str, Any], label: str) -> dict[tuple[str, str], Mapping[str, Any]]:
    out = {}
    for pool, body in result.get("pools", {}).items():
        for task, entry in body.get("tasks", {}).items():
            if "metrics" not in entry:
                continue
            if "per_query" not in entry:
                raise ConfigError(
                    f"{label}: task {task} has no per-query values",
                    hint="re-run `polyseek eval` with this version to record them",
                )
            out[(pool, task)] = entry
    return out


def compare(
    base: Mapping[str, Any],
    other: Mapping[str, Any],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = 0,
    labels: tuple[str, str] = ("base", "other"),
) -> list[Difference]:
    """Paired tests of ``other`` against ``base`` for every shared pool, task and metric."""
    if base.get("dataset", {}).get("name") != other.get("dataset", {}).get("name"):
        raise ConfigError(
            f"{labels[0]} and {labels[1]} evaluate different datasets "
            f"({base.get('dataset', {}).get('name')!r} vs {other.get('dataset', {}).get('name')!r})"
        )
    a_tasks, b_tasks = _tasks(base, labels[0]), _tasks(other, labels[1])
    shared = set(a_tasks) & set(b_tasks)
    for pool, task in sorted(shared):
        # The same queries in the same pool in both results: tested once, in that pool.
        twin = _same_as(base, pool, a_tasks[pool, task])
        if twin is not None and twin == _same_as(other, pool, b_tasks[pool, task]):
            if (twin, task) in shared:
                shared.discard((pool, task))
    tested = sorted(shared)
    if not tested:
        raise ConfigError(f"{labels[0]} and {labels[1]} share no evaluated pool and task")
    found: list[Difference] = []
    for pool, task in tested:
        a_rows, b_rows = a_tasks[pool, task]["per_query"], b_tasks[pool, task]["per_query"]
        if set(a_rows) != set(b_rows):
            raise ConfigError(
                f"{pool} pool, task {task}: the two results judged different queries "
                f"({len(a_rows)} vs {len(b_rows)})",
                hint="compare results of the same dataset and split",
            )
        qids = sorted(a_rows)
        for metric in metrics:
            if metric not in a_rows[qids[0]] or metric not in b_rows[qids[0]]:
                continue
            a = np.array([a_rows[q][metric] for q in qids], dtype=np.float64)
            b = np.array([b_rows[q][metric] for q in qids], dtype=np.float64)
            diff = b - a
            if metric.startswith("hit@"):
                p, test, low, high = _mcnemar(a, b), "mcnemar-exact", None, None
            else:
                p, low, high = _randomisation(diff, seed)
                test = "paired-randomisation"
            found.append(
                Difference(
                    pool=pool,
                    task=task,
                    metric=metric,
                    queries=len(qids),
                    base=round(float(a.mean()), 6),
                    other=round(float(b.mean()), 6),
                    delta=round(float(diff.mean()), 6),
                    better=int(np.sum(diff > 0)),
                    worse=int(np.sum(diff < 0)),
                    test=test,
                    p=_sig(p),
                    ci_low=None if low is None else round(low, 6),
                    ci_high=None if high is None else round(high, 6),
                )
            )
    adjusted = _holm([d.p for d in found])
    return [
        Difference(**{**asdict(d), "p_holm": _sig(p)}) for d, p in zip(found, adjusted, strict=True)
    ]


__all__ = ["ALPHA", "DEFAULT_METRICS", "Difference", "compare"]
