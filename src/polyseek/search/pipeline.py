"""The search pipeline: one query's journey, stage by stage.

    embed -> candidates -> fuse -> items -> rerank -> cut -> hits -> merge

* **embed** (:class:`~polyseek.search.embedder.QueryEmbedder`): a vector per encoder.
* **candidates**: one ranked list per encoder (raw or calibrated scores,
  :mod:`polyseek.search.calibration`; MaxSim for a late-interaction encoder,
  :mod:`polyseek.store.maxsim`), plus BM25 (:mod:`polyseek.search.lexical`).
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

import contextvars
import logging
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.errors import QueryError
from polyseek.rerank.base import Candidate
from polyseek.search import calibration as cal
from polyseek.search.base import Fused, Query, QueryVectors
from polyseek.search.embedder import QueryEmbedder
from polyseek.search.filtered import restrict
from polyseek.search.hybrid import Signal, rrf_fusion, standardise, zscore_fusion
from polyseek.search.lexical import search_lexical
from polyseek.search.moments import MERGE_SLACK, merge_adjacent
from polyseek.search.snippets import snippet
from polyseek.store.base import Store, StoredItem, VectorView
from polyseek.store.maxsim import maxsim_scores
from polyseek.types import MODALITIES, Hit, Modality, SearchResult

logger = logging.getLogger(__name__)

LEXICAL_SIGNAL = "lexical"
# What an image-text encoder is the bridge to for a text query: items with a picture. Its
# text tower's rows of text items serve image queries (an image finding text); for a text
# query the text encoder and BM25 score text, and an image-text model's text-to-text
# scores (weak for a real CLIP, noise for one that knows nothing) are left out.
PICTURE_MODALITIES: tuple[Modality, ...] = ("image", "page", "video")
ROLLUP_DEPTH = 4  # candidates fused per result asked when regions roll up under pages
# BM25 lists of every pipeline in the process (a server's concurrent queries share them).
_BACKGROUND = ThreadPoolExecutor(max_workers=4, thread_name_prefix="polyseek-bm25")


@dataclass(frozen=True)
class Depths:
    """How many candidates each stage keeps for a query fusing ``n_lists`` lists."""

    lists: int  # each candidate list
    fused: int  # the fused list (reranked and cut below)

    @classmethod
    def of(cls, q: Query, n_lists: int, held: Collection[Modality] | None = None) -> Depths:
        """``held``: the modalities the searched items may have (None: any). Without
        pages nothing rolls up, without video or audio no moments merge: the lists need
        no candidates for either (at 1M items a dense query re-scored 200 ANN
        candidates for 10 text hits, 2.2x the time of 50)."""
        r = q.ranking
        pages = held is None or "page" in held
        slack = MERGE_SLACK if held is None or {"video", "audio"} & set(held) else 0
        # Fusion needs candidates beyond the top of each list; a single list does not.
        depth = q.top if n_lists <= 1 else max(q.top * 5, 50)
        # Rolling regions up under their pages takes several candidates per result.
        head = q.top * ROLLUP_DEPTH if r.grain == "page" and pages else q.top
        depth = max(depth, head)
        if r.rerank is not None:
            depth = max(depth, r.rerank_depth)
            head = max(q.top, r.rerank_depth)
        # MERGE_SLACK spare candidates refill the top when adjacent moments merge.
        return cls(lists=max(depth, q.top + slack), fused=head + slack)


class SearchPipeline:
    """Answers queries over a store with the encoders of its collection.

    Without an ``embedder`` only :meth:`rank` (vectors computed elsewhere) works.
    """

    def __init__(self, store: Store, embedder: QueryEmbedder | None = None) -> None:
        self.store = store
        self.embedder = embedder

    def search(self, q: Query) -> SearchResult:
        return self.search_batch([q])[0]

    def search_batch(self, queries: Sequence[Query]) -> list[SearchResult]:
        if self.embedder is None:
            raise QueryError("this pipeline has no query embedder: rank() precomputed vectors")
        vectors = self.embedder.embed(queries)
        return [self.rank(q, v) for q, v in zip(queries, vectors, strict=True)]

    def rank(self, q: Query, vectors: QueryVectors) -> SearchResult:
        """Rank items for query vectors already computed per encoder (no encoding here).

        A ``where`` filter or a quoted phrase restricts the store before anything is
        ranked (:mod:`polyseek.search.filtered`).
        """
        with self.store.reading():  # one state of the index for the whole query
            store = restrict(self.store, q.ranking.where, q.text)
            if store is not self.store:
                return SearchPipeline(store, self.embedder)._rank(q, vectors)
            return self._rank(q, vectors)

    def _rank(self, q: Query, vectors: QueryVectors) -> SearchResult:
        n_lists = len(vectors) + int(q.ranking.lexical and q.has_text)
        held = frozenset[Modality]().union(
            *(self.store.vector_modalities(e.key) for e in self.store.manifest.encoders)
        )  # (known per table version without loading vectors)
        depths = Depths.of(q, n_lists, held)
        signals = self.candidates(q, vectors, depths.lists)
        fused = self.fuse(q, signals, depths.fused)
        want = q.top + MERGE_SLACK
        reranks = q.ranking.rerank is not None
        head = max(want, q.ranking.rerank_depth if reranks else 0)
        # Texts are read for what a reranker reads and what the hits show, not for every
        # candidate the roll-up looks at (at 1M items the texts' read was a fifth of a
        # query).
        items = self.store.get_items([f.item_id for f in fused[:head]], text=reranks)
        ranked = self.rollup(q, self.rerank(q, fused, items), items, want)
        kept = self.cut(q, ranked)
        timed = any((it := items.get(f.item_id)) and it.locator.start_s is not None for f in kept)
        spare = ranked[q.top : q.top + MERGE_SLACK] if timed and len(kept) == q.top else []
        shown = [*kept, *spare]
        unread = [f.item_id for f in shown if (it := items.get(f.item_id)) and not it.text]
        if unread:  # (an item without text is asked for again: harmless)
            items.update(self.store.get_items(unread))
        hits = self.hits(q, shown, items, vectors)
        # neighbouring moments -> one span; the spare ones only refill what merging took
        return SearchResult(query=q.describe(), hits=merge_adjacent(hits)[: len(kept)])

    # ------------------------------------------------------------------ stages
    def candidates(self, q: Query, vectors: QueryVectors, depth: int) -> list[Signal]:
        """One ranked list per encoder, plus BM25 if asked, each a :class:`Signal`."""
        r = q.ranking
        lexical_share = self._lexical_share(q, bool(vectors))
        calibrate = self._calibrates(q)
        lexical = None
        if r.lexical and q.has_text and q.text_share > 0.0:  # image_weight 1: the image alone
            # BM25 runs beside the vector search: both wait in LanceDB (Rust, no GIL), so
            # a hybrid query costs about the slower of the two, not their sum.
            # (in this query's context: it reads the same snapshot of the index)
            lexical = _BACKGROUND.submit(
                contextvars.copy_context().run, self._lexical, q, depth, lexical_share, calibrate
            )
        signals = [
            self._dense(q, info, vec, depth, (1.0 - lexical_share) / len(vectors), calibrate)
            for info, vec in vectors.items()
        ]
        if lexical is not None:
            signals.append(lexical.result())
        return signals

    @staticmethod
    def _lexical_share(q: Query, dense: bool) -> float:
        """BM25's weight in the mix: ``lexical_weight`` of the query's text share.

        BM25 reads only the words, so in a composed query (image + text) it gets
        ``lexical_weight`` of the text's share ``1 - image_weight``, not of the whole:
        at ``image_weight`` 0.7 it took 0.7 of the mix (the picture 0.3 x 0.7 = 0.21), and
        items merely containing the modifier's words could outvote the picture; now 0.21.
        ``image_weight`` 1 ranks as the image alone, 0 as the text alone.
        """
        r = q.ranking
        if not (r.lexical and q.has_text):
            return 0.0
        if not dense:
            return 1.0
        return r.lexical_weight * q.text_share

    def _calibrates(self, q: Query) -> bool:
        """Whether to calibrate: as asked, or (by default) when the searched items mix
        modalities (benchmarks/ranking.py (b): every hit@k up or equal but 3 of 24 on four
        mixed pools, hybrid search)."""
        if q.ranking.calibrate is not None:
            return q.ranking.calibrate
        mods = q.modalities or None
        return any(
            cal.mixes_modalities(self.store, info.key, mods)
            for info in self.store.manifest.encoders
        )

    def _dense(
        self,
        q: Query,
        info: EncoderInfo,
        vec: np.ndarray,
        depth: int,
        weight: float,
        calibrate: bool = False,
    ) -> Signal:
        r, mods, store, key = q.ranking, q.modalities or None, self.store, info.key
        if info.kind == "late-interaction":
            return self._late(q, info, vec, depth, weight)
        if info.kind == "image-text" and q.image is None:
            mods = tuple(m for m in (mods or MODALITIES) if m in PICTURE_MODALITIES)
            if not mods:
                return Signal(info.spec, [], weight)
        if calibrate:
            stats = cal.calibration_stats(store, key, vec, r.calibration, mods, q.text_share)
            if stats is not None:
                found = cal.calibrated_search(
                    store,
                    key,
                    vec,
                    depth,
                    stats.per_modality,
                    mods,
                    exact=r.exact,
                    first_pass=r.first_pass_plan,
                    hub=stats.hub,
                )

                def calibrated(ids: list[str]) -> dict[str, float]:
                    return cal.calibrated_scores(
                        store, key, vec, ids, stats.per_modality, stats.hub, mods
                    )

                def uncalibrated(ids: list[str]) -> dict[str, float]:
                    return store.vectors_of(key, ids).best_scores(ids, vec, mods)

                return Signal(info.spec, found, weight, fill=calibrated, raw=uncalibrated)
            logger.warning("no calibration statistics for %s: raw scores used", info.spec)
        found = store.search_vectors(
            key, vec[None, :], depth, mods, exact=r.exact, first_pass=r.first_pass_plan
        )[0]

        def exact(ids: list[str]) -> dict[str, float]:
            # (the rows of these items only, when the table is too large to hold)
            return store.vectors_of(key, ids).best_scores(ids, vec, mods)

        return Signal(info.spec, found, weight, fill=exact)

    def _late(
        self, q: Query, info: EncoderInfo, tokens: np.ndarray, depth: int, weight: float
    ) -> Signal:
        """MaxSim candidates of a late-interaction encoder (ColPali): the query's token
        matrix against every item's rows. Its scores are not calibrated."""
        store, key = self.store, info.key
        found = store.search_multivector(key, [tokens], depth, q.modalities or None)[0]

        def exact(ids: list[str]) -> dict[str, float]:
            return maxsim_scores(store.vectors(key), tokens, ids)

        return Signal(info.spec, found, weight, fill=exact)

    def _lexical(self, q: Query, depth: int, weight: float, calibrate: bool = False) -> Signal:
        found = search_lexical(self.store, q.text or "", depth, q.modalities or None)
        # Every item matching a query word is in a list that ended early: the others
        # score 0. A longer list was cut: the others score at most its last score.
        absent = 0.0 if len(found) < depth else (found[-1][1] if found else 0.0)
        text_key = self._text_key()
        covers = None
        if text_key is not None:  # which items have text at all (a picture may not)

            def covers(ids: list[str]) -> list[str]:
                view = self.store.vectors_of(text_key, ids)
                return [i for i in ids if view.has(i)]

        group = None
        if calibrate and text_key is not None:
            # BM25 favours long texts over short captions and OCR lines as cosine favours
            # text over images: calibrated, it is standardised per modality too.
            view = self.store.vectors(text_key)  # (calibration holds the vectors anyway)

            def group(item_id: str) -> str | None:
                rows = view.rows_of(item_id)
                return str(view.modality[rows[0]]) if len(rows) else None

        return Signal(
            LEXICAL_SIGNAL,
            found,
            weight,
            covers=covers,
            absent=absent,
            group=group,
            prior=cal.PRIOR_ITEMS,
        )

    def _text_key(self) -> str | None:
        """The store key of the text encoder's vectors (which items have text at all)."""
        info = next((i for i in self.store.manifest.encoders if i.kind == "text"), None)
        return None if info is None else info.key

    def fuse(self, q: Query, signals: Sequence[Signal], k: int) -> list[Fused]:
        """One list: the signals' weighted z-score mix (or weighted RRF)."""
        live = [s for s in signals if s.ranked]
        if len(live) <= 1:  # a single list keeps its raw scores
            name, ranked = (live[0].name, live[0].ranked) if live else ("", [])
            return [Fused(i, v, {name: v}, {name: v}) for i, v in list(ranked)[:k]]
        if q.ranking.fusion == "rrf":
            return rrf_fusion(live, k)
        return zscore_fusion(live, k)

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
        parts = [{reranker.name: x} for x in final]  # alone, the reranker is the score
        if r.rerank_weight < 1.0:
            final, parts = mix_rerank(r.rerank_weight, final, head, reranker.name)
        order = sorted(range(len(head)), key=lambda i: (-final[i], i))
        out = [
            Fused(
                head[i].item_id,
                final[i],
                {**head[i].signals, reranker.name: float(scores[i])},
                parts[i],
            )
            for i in order
        ]
        return out + fused[r.rerank_depth :]

    def rollup(
        self, q: Query, fused: list[Fused], items: dict[str, StoredItem], want: int
    ) -> list[Fused]:
        """With ``grain="page"``, one result per PDF page: its best item (the page or one
        of its layout regions) stands for it, the others of that page are dropped.

        Items are read ``want`` at a time, as far down the list as it takes to find
        ``want`` results (``items`` grows with what is read).
        """
        if q.ranking.grain != "page":
            return fused
        out: list[Fused] = []
        seen: set[tuple[str, int]] = set()
        for n, f in enumerate(fused):
            if len(out) >= want:
                return out + fused[n:]  # below the fold: order kept, nothing rolled up
            if f.item_id not in items:
                more = [x.item_id for x in fused[n : n + want]]
                items.update(self.store.get_items(more, text=False))
            item = items.get(f.item_id)
            if item is not None and item.modality == "page" and item.locator.page is not None:
                key = (item.source, item.locator.page)
                if key in seen:
                    continue
                seen.add(key)
            out.append(f)
        return out

    @staticmethod
    def cut(q: Query, fused: list[Fused]) -> list[Fused]:
        fused = fused[: q.top]
        cutoff = q.ranking.cutoff
        if cutoff is None or isinstance(cutoff, str):
            return fused
        return fused[: cutoff.keep([f.score for f in fused])]

    def hits(
        self,
        q: Query,
        fused: Sequence[Fused],
        items: Mapping[str, StoredItem],
        vectors: QueryVectors | None = None,
    ) -> list[Hit]:
        """Results: an item with passages shows (and points at) the passage that matched."""
        out: list[Hit] = []
        with_passages = [f.item_id for f in fused if (it := items.get(f.item_id)) and it.passages]
        views = {  # the rows of those items, one read per text encoder
            info.key: self.store.vectors_of(info.key, with_passages)
            for info in (vectors or {})
            if info.kind == "text" and with_passages
        }
        for f in fused:
            item = items.get(f.item_id)
            if item is None:  # removed between the vector read and now
                continue
            locator, text = item.locator, item.text
            if item.passages:
                k = self._best_passage(q, item, vectors or {}, views)
                p = item.passages[k]
                locator, text = item.passage_locator(k), item.text[p.char_start : p.char_end]
            preview = self.store.preview_file(item)
            out.append(
                Hit(
                    rank=len(out) + 1,
                    score=f.score,
                    item_id=item.id,
                    modality=item.modality,
                    source=item.source,
                    locator=locator,
                    snippet=snippet(text, q.text),
                    signals=f.signals,
                    contributions=f.contributions,
                    metadata=item.metadata,
                    preview=str(preview) if preview else None,
                )
            )
        return out

    def _best_passage(
        self,
        q: Query,
        item: StoredItem,
        vectors: QueryVectors,
        views: Mapping[str, VectorView] | None = None,
    ) -> int:
        """The passage whose vector is closest to the query's (text encoder), else the one
        sharing most query words. ``views``: vectors holding the item's rows, by key."""
        for info, vec in vectors.items():
            if info.kind != "text":
                continue
            view = (views or {}).get(info.key)
            if view is None:
                view = self.store.vectors_of(info.key, [item.id])
            rows = view.rows_of(item.id)
            if len(rows):
                parts = view.part[rows] if view.part is not None else np.arange(len(rows))
                best = int(parts[int(np.argmax(view.matrix[rows] @ vec))])
                if 0 <= best < len(item.passages):
                    return best
        words = {w for w in (q.text or "").lower().split() if len(w) > 2}
        overlap = [
            sum(w in item.text[p.char_start : p.char_end].lower() for w in words)
            for p in item.passages
        ]
        return int(np.argmax(overlap)) if overlap else 0


def mix_rerank(
    w: float, scores: list[float], head: Sequence[Fused], name: str
) -> tuple[list[float], list[dict[str, float]]]:
    """``w`` x z(reranker) + (1 - w) x z(first stage), and each score's parts: the first
    stage's parts scaled by ``(1 - w) / std``; the reranker's part takes the centring."""
    first = np.asarray([h.score for h in head], dtype=np.float64)
    mean, std = float(first.mean()), float(first.std())
    scale = (1.0 - w) / std if std > 1e-12 else 0.0
    final, parts = [], []
    for z, h in zip(standardise(scores), head, strict=True):
        mine = {k: v * scale for k, v in h.contributions.items()}
        mine[name] = float(w * z) - mean * scale
        final.append(float(w * z + (h.score - mean) * scale))
        parts.append(mine)
    return final, parts


__all__ = ["LEXICAL_SIGNAL", "Depths", "SearchPipeline"]
