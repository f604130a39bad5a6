"""Hybrid fusion of the dense and lexical lists: a linear mix of standardised scores.

BM25 scores and cosine similarities live on different scales, and their spread changes
from query to query, so each list's scores are standardised (z-scores over that query's
candidate list) before a weighted sum; an item missing from one list gets that list's
floor (its lowest z-score). On the paper-listing known-item task this beats reciprocal
rank fusion, which throws the score gaps away (benchmarks/ranking.py); ``fusion="rrf"``
in a :class:`~polyseek.search.base.Query` selects RRF instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polyseek.search.base import Fused, Ranked


def standardise(values: Sequence[float]) -> np.ndarray:
    """z-scores of ``values``; all zeros when they do not vary."""
    a = np.asarray(values, dtype=np.float64)
    std = a.std()
    return (a - a.mean()) / std if std > 1e-12 else np.zeros_like(a)


def _z(ranked: Ranked) -> dict[str, float]:
    z = standardise([s for _, s in ranked])
    return {item: float(v) for (item, _), v in zip(ranked, z, strict=True)}


def linear_fusion(
    dense: Sequence[Fused], lexical: Ranked, k: int, lexical_weight: float = 0.5
) -> list[Fused]:
    """Merge a (fused) dense list and the lexical list by weighted z-scores."""
    if not lexical:
        return list(dense)[:k]
    if not dense:
        return [Fused(i, s, {"lexical": s}) for i, s in list(lexical)[:k]]
    zd = _z([(f.item_id, f.score) for f in dense])
    zl = _z(lexical)
    floor_d, floor_l = min(zd.values()), min(zl.values())
    signals = {f.item_id: dict(f.signals) for f in dense}
    for item, raw in lexical:
        signals.setdefault(item, {})["lexical"] = raw
    w = lexical_weight
    scores = {item: (1 - w) * zd.get(item, floor_d) + w * zl.get(item, floor_l) for item in signals}
    order = sorted(scores, key=lambda i: (-scores[i], i))[:k]
    return [Fused(i, scores[i], signals[i]) for i in order]


__all__ = ["linear_fusion"]
