"""Reciprocal rank fusion: merges rankings whose scores are not comparable.

Different encoders live in different spaces (a CLIP text-image cosine of 0.3 can be a
strong match while a MiniLM text-text cosine of 0.3 is weak), so lists are merged by
rank, not by raw score (Cormack et al., 2009). A single list keeps its raw scores.
"""

from __future__ import annotations

from collections.abc import Mapping

from polyseek.search.base import Fused, Ranked


class ReciprocalRankFusion:
    def __init__(self, k: int = 60) -> None:
        self.k = k

    def fuse(self, lists: Mapping[str, Ranked], k: int) -> list[Fused]:
        non_empty = {name: ranked for name, ranked in lists.items() if ranked}
        if len(non_empty) <= 1:
            name, ranked = next(iter(non_empty.items()), ("", []))
            return [Fused(i, s, {name: s}) for i, s in list(ranked)[:k]]
        scores: dict[str, float] = {}
        signals: dict[str, dict[str, float]] = {}
        for name, ranked in non_empty.items():
            for rank, (item_id, raw) in enumerate(ranked, start=1):
                scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (self.k + rank)
                signals.setdefault(item_id, {})[name] = raw
        order = sorted(scores, key=lambda i: (-scores[i], i))[:k]
        return [Fused(i, scores[i], signals[i]) for i in order]
