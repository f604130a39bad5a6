"""Paired significance tests between two eval results (polyseek.eval.compare)."""

from __future__ import annotations

import pytest

from polyseek.errors import ConfigError
from polyseek.eval.compare import compare


def result(per_query: dict[str, dict[str, float]], name: str = "d") -> dict:
    metrics = {m: sum(r[m] for r in per_query.values()) / len(per_query) for m in ("hit@1",)}
    task = {"name": "t", "metrics": metrics, "per_query": per_query}
    return {"dataset": {"name": name}, "pools": {"union": {"tasks": {"1": task}}}}


def rows(hits: list[int], mrr: list[float]) -> dict[str, dict[str, float]]:
    return {
        f"q{i:03d}": {"hit@1": h, "mrr@10": m}
        for i, (h, m) in enumerate(zip(hits, mrr, strict=True))
    }


def by_metric(found):
    return {d.metric: d for d in found}


def test_mcnemar_counts_discordant_queries_and_gives_the_exact_binomial_p():
    # 10 queries gained, 2 lost, 88 unchanged: two-sided binomial(10 of 12) p = 0.03857.
    base = [0] * 10 + [1] * 2 + [1] * 40 + [0] * 48
    other = [1] * 10 + [0] * 2 + [1] * 40 + [0] * 48
    found = by_metric(compare(result(rows(base, [0.0] * 100)), result(rows(other, [0.0] * 100))))
    hit = found["hit@1"]
    assert (hit.better, hit.worse, hit.queries) == (10, 2, 100)
    assert hit.delta == pytest.approx(0.08)
    assert hit.p == pytest.approx(0.03857, abs=1e-4)
    assert hit.test == "mcnemar-exact"


def test_randomisation_test_separates_a_consistent_gain_from_noise():
    n = 60
    base = rows([0] * n, [0.5] * n)
    gain = rows([0] * n, [0.5 + (0.1 if i % 4 else -0.05) for i in range(n)])
    noise = rows([0] * n, [0.5 + (0.1 if i % 2 else -0.1) for i in range(n)])
    g = by_metric(compare(result(base), result(gain), metrics=("mrr@10",)))["mrr@10"]
    z = by_metric(compare(result(base), result(noise), metrics=("mrr@10",)))["mrr@10"]
    assert g.p < 0.001 and g.significant and g.ci_low is not None and g.ci_low > 0
    assert z.p > 0.5 and not z.significant and z.ci_low < 0 < z.ci_high
    # Seeded: the same inputs give the same p-values.
    again = by_metric(compare(result(base), result(gain), metrics=("mrr@10",)))["mrr@10"]
    assert again == g


def test_identical_runs_differ_nowhere():
    same = rows([1, 0, 1, 1], [1.0, 0.0, 0.5, 1.0])
    for d in compare(result(same), result(same)):
        assert d.delta == 0 and d.p == 1.0 and d.p_holm == 1.0 and not d.significant


def test_holm_adjustment_is_never_below_the_raw_p():
    base = rows([0] * 30 + [1] * 30, [0.2] * 60)
    other = rows([1] * 8 + [0] * 22 + [1] * 30, [0.2 + 0.01 * (i % 3) for i in range(60)])
    found = compare(result(base), result(other))
    assert len(found) == 2
    assert all(d.p_holm >= d.p for d in found)
    assert min(d.p_holm for d in found) == pytest.approx(2 * min(d.p for d in found), rel=1e-3)


def test_mismatched_results_are_refused_with_a_reason():
    a = result(rows([1, 0], [1.0, 0.0]))
    with pytest.raises(ConfigError, match="different datasets"):
        compare(a, result(rows([1, 0], [1.0, 0.0]), name="other"))
    with pytest.raises(ConfigError, match="different queries"):
        compare(a, result(rows([1, 0, 1], [1.0, 0.0, 1.0])))
    old = result(rows([1, 0], [1.0, 0.0]))
    del old["pools"]["union"]["tasks"]["1"]["per_query"]
    with pytest.raises(ConfigError, match="no per-query values"):
        compare(a, old, labels=("a.json", "old.json"))
