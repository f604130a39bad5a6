"""The search pipeline: one query's journey, stage by stage.

    embed -> candidates -> fuse -> items -> rerank -> cut -> hits -> merge

* **embed** (:class:`~polyseek.search.embedder.QueryEmbedder`): a vector per encoder.
* **candidates**: one ranked list per encoder (raw or calibrated scores,
  :mod:`polyseek.search.calibration`), plus BM25 (:mod:`polyseek.search.lexical`).
* **fuse**: encoders by reciprocal rank fusion, then the lexical list by the hybrid
  z-score mix (:mod:`polyseek.search.hybrid`) or RRF.
* **items**: the fused candidates' stored items, in one read.
* **rerank**: the head re-scored by a reranker, alone or mixed with the first stage.
* **cut**: ``top``, then the adaptive cut-off.
* **hits** and **merge**: results with snippets and previews; neighbouring moments of
  one file merged into one span (spare candidates refill the list).

:class:`Depths` holds the arithmetic of how deep each stage reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.errors import QueryError
from polyseek.rerank.base import Candidate
from polyseek.search import calibration as cal
from polyseek.search.base import Fused, Fuser, Query, QueryVectors, Ranked
from polyseek.search.embedder import QueryEmbedder
from polyseek.search.fusion import ReciprocalRankFusion
from polyseek.search.hybrid import linear_fusion, standardise
from polyseek.search.lexical import search_lexical
from polyseek.search.moments import MERGE_SLACK, merge_adjacent
from polyseek.search.snippets import snippet
from polyseek.store.base import Store, StoredItem
from polyseek.types import Hit, SearchResult

logger = logging.getLogger(__name__)

LEXICAL_SIGNAL = "lexical"


@dataclass(frozen=True)
class Depths:
    """How many candidates each stage keeps for a query fusing ``n_lists`` lists."""

    lists: int  # each candidate list
    fused: int  # the fused list (reranked and cut below)

    @classmethod
    def of(cls, q: Query, n_lists: int) -> Depths:
        r = q.ranking
        # Fusion needs candidates beyond the top of each list; a single list does not.
        depth = q.top if n_lists <= 1 else max(q.top * 5, 50)
        head = q.top
        if r.rerank is not None:
            depth = max(depth, r.rerank_depth)
            head = max(q.top, r.rerank_depth)
        # MERGE_SLACK spare candidates refill the top when adjacent moments merge.
        return cls(lists=max(depth, q.top + MERGE_SLACK), fused=head + MERGE_SLACK)


class SearchPipeline:
    """Answers queries over a store with the encoders of its collection.

    Without an ``embedder`` only :meth:`rank` (vectors computed elsewhere) works.
    """

    def __init__(
        self, store: Store, embedder: QueryEmbedder | None = None, fuser: Fuser | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fuser: Fuser = fuser or ReciprocalRankFusion()

    def search(self, q: Query) -> SearchResult:
        return self.search_batch([q])[0]

    def search_batch(self, queries: Sequence[Query]) -> list[SearchResult]:
        if self.embedder is None:
            raise QueryError("this pipeline has no query embedder: rank() precomputed vectors")
        vectors = self.embedder.embed(queries)
        return [self.rank(q, v) for q, v in zip(queries, vectors, strict=True)]

    def rank(self, q: Query, vectors: QueryVectors) -> SearchResult:
        """Rank items for query vectors already computed per encoder (no encoding here)."""
        n_lists = len(vectors) + int(q.ranking.lexical and q.has_text)
        depths = Depths.of(q, n_lists)
        lists = self.candidates(q, vectors, depths.lists)
        fused = self.fuse(q, lists, depths.fused)
        items = self.store.get_items([f.item_id for f in fused])
        ranked = self.rerank(q, fused, items)
        kept = self.cut(q, ranked)
        timed = any((it := items.get(f.item_id)) and it.locator.start_s is not None for f in kept)
        spare = ranked[q.top : q.top + MERGE_SLACK] if timed and len(kept) == q.top else []
        hits = self.hits(q, [*kept, *spare], items)
        # neighbouring moments -> one span; the spare ones only refill what merging took
        return SearchResult(query=q.describe(), hits=merge_adjacent(hits)[: len(kept)])

    # ------------------------------------------------------------------ stages
    def candidates(self, q: Query, vectors: QueryVectors, depth: int) -> dict[str, Ranked]:
        """Named ranked lists to fuse: one per encoder, plus the lexical one if asked."""
        lists: dict[str, Ranked] = {}
        for info, vec in vectors.items():
            lists[info.spec] = self._dense(q, info, vec, depth)
        if q.ranking.lexical and q.has_text:
            lists[LEXICAL_SIGNAL] = search_lexical(
                self.store, q.text or "", depth, q.modalities or None
            )
        return lists

    def _dense(self, q: Query, info: EncoderInfo, vec: np.ndarray, depth: int) -> Ranked:
        r, mods, store = q.ranking, q.modalities or None, self.store
        if r.calibrate:
            stats = cal.calibration_stats(store, info.key, vec, r.calibration, mods)
            if stats is not None:
                return cal.calibrated_search(
                    store,
                    info.key,
                    vec,
                    depth,
                    stats.per_modality,
                    mods,
                    exact=r.exact,
                    first_pass=r.first_pass_plan,
                    hub=stats.hub,
                )
            logger.warning("no calibration statistics for %s: raw scores used", info.spec)
        return store.search_vectors(
            info.key,
            vec[None, :],
            depth,
            mods,
            exact=r.exact,
            first_pass=r.first_pass_plan,
        )[0]

    def fuse(self, q: Query, lists: Mapping[str, Ranked], k: int) -> list[Fused]:
        """Encoders by the fuser (RRF), then the lexical list by the hybrid rule."""
        r = q.ranking
        if LEXICAL_SIGNAL not in lists or len(lists) == 1 or r.fusion == "rrf":
            return self.fuser.fuse(lists, k)
        dense_lists = {n: x for n, x in lists.items() if n != LEXICAL_SIGNAL}
        deepest = max(len(x) for x in lists.values())
        dense = self.fuser.fuse(dense_lists, deepest)
        return linear_fusion(dense, lists[LEXICAL_SIGNAL], k, r.lexical_weight)

    def rerank(self, q: Query, fused: list[Fused], items: Mapping[str, StoredItem]) -> list[Fused]:
        """Re-score the first ``rerank_depth`` candidates; the rest keep their order below."""
        r = q.ranking
        reranker = r.reranker
        if reranker is None or not fused:
            return fused
        head = [f for f in fused[: r.rerank_depth] if f.item_id in items]
        candidates = [
            Candidate(
                item_id=f.item_id,
                modality=items[f.item_id].modality,
                text=items[f.item_id].text,
                image_path=self.store.preview_file(items[f.item_id]),
            )
            for f in head
        ]
        scores = reranker.score(q.text or "", candidates)
        if len(scores) != len(candidates):
            raise QueryError(
                f"reranker {reranker.name} returned {len(scores)} scores for "
                f"{len(candidates)} candidates"
            )
        final = [float(x) for x in scores]
        if r.rerank_weight < 1.0:
            w = r.rerank_weight
            first = standardise([h.score for h in head])
            final = [
                float(w * a + (1.0 - w) * b) for a, b in zip(standardise(final), first, strict=True)
            ]
        order = sorted(range(len(head)), key=lambda i: (-final[i], i))
        out = [
            Fused(head[i].item_id, final[i], {**head[i].signals, reranker.name: float(scores[i])})
            for i in order
        ]
        return out + fused[r.rerank_depth :]

    @staticmethod
    def cut(q: Query, fused: list[Fused]) -> list[Fused]:
        fused = fused[: q.top]
        cutoff = q.ranking.cutoff
        if cutoff is None or isinstance(cutoff, str):
            return fused
        return fused[: cutoff.keep([f.score for f in fused])]

    def hits(self, q: Query, fused: Sequence[Fused], items: Mapping[str, StoredItem]) -> list[Hit]:
        out: list[Hit] = []
        for f in fused:
            item = items.get(f.item_id)
            if item is None:  # removed between the vector read and now
                continue
            preview = self.store.preview_file(item)
            out.append(
                Hit(
                    rank=len(out) + 1,
                    score=f.score,
                    item_id=item.id,
                    modality=item.modality,
                    source=item.source,
                    locator=item.locator,
                    snippet=snippet(item.text, q.text),
                    signals=f.signals,
                    metadata=item.metadata,
                    preview=str(preview) if preview else None,
                )
            )
        return out


__all__ = ["LEXICAL_SIGNAL", "Depths", "SearchPipeline"]
