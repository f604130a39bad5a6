"""The ranking options around fusion: candidate lists (dense, calibrated, lexical),
reranking and the adaptive cut-off. :meth:`polyseek.engine.Engine.rank` calls these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.errors import QueryError
from polyseek.rerank.base import Candidate
from polyseek.search.base import Fused, Fuser, Query, Ranked
from polyseek.search.calibration import (
    CALIBRATION_MODES,
    Calibration,
    ScoreStats,
    calibrated_search,
    calibration_path,
    hubness,
    load_calibration,
    mixes_modalities,
    query_stats,
    update_calibration,
)
from polyseek.search.hybrid import linear_fusion, standardise
from polyseek.search.lexical import search_lexical
from polyseek.store.base import StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.store.quantized import FirstPass

logger = logging.getLogger(__name__)

LEXICAL_SIGNAL = "lexical"
FUSIONS = ("zscore", "rrf")

_calibration_cache: dict[Path, tuple[int, Calibration]] = {}


def store_calibration(store: LanceStore) -> Calibration:
    """The store's calibration statistics, re-read when the file changes."""
    path = store.path / "calibration.json"
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    cached = _calibration_cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_calibration(store))
        _calibration_cache[path] = cached
    return cached[1]


def after_index(store: LanceStore, encoders: Sequence[Encoder], changed: bool) -> None:
    """Bring the full-text index and calibration statistics up to date after indexing."""
    if changed or not calibration_path(store).is_file():
        update_calibration(store, encoders)
    store.ensure_text_index()


def candidate_lists(
    store: LanceStore, q: Query, vectors: Mapping[EncoderInfo, np.ndarray], depth: int
) -> dict[str, Ranked]:
    """Named ranked lists to fuse: one per encoder, plus the lexical one if asked."""
    if q.calibration not in CALIBRATION_MODES:
        raise QueryError(
            f"unknown calibration {q.calibration!r}", hint=f"valid: {', '.join(CALIBRATION_MODES)}"
        )
    first_pass = FirstPass.parse(q.first_pass, q.oversample)
    by_collection = q.calibrate and q.calibration == "collection"
    calibration = store_calibration(store) if q.calibrate else {}
    lists: dict[str, Ranked] = {}
    for info, vec in vectors.items():
        stats: dict[str, ScoreStats] | None
        hub = None
        if (
            q.calibrate
            and q.calibration == "hubness"
            and mixes_modalities(store, info.key, q.modalities or None)
        ):
            hub = hubness(store, info.key)  # one modality: calibration keeps the raw order
        if q.calibrate and not by_collection:
            stats = query_stats(store, info.key, vec, hub, prior=calibration.get(info.key))
        else:
            stats = calibration.get(info.key)
        if q.calibrate and stats:
            lists[info.spec] = calibrated_search(
                store,
                info.key,
                vec,
                depth,
                stats,
                q.modalities or None,
                exact=q.exact,
                first_pass=first_pass,
                hub=hub,
            )
        else:
            if q.calibrate:
                logger.warning("no calibration statistics for %s: raw scores used", info.spec)
            lists[info.spec] = store.search_vectors(
                info.key,
                vec[None, :],
                depth,
                q.modalities or None,
                exact=q.exact,
                first_pass=first_pass,
            )[0]
    if q.lexical:
        if not q.text or not q.text.strip():
            if not vectors:
                raise QueryError("lexical search needs query text")
        else:
            lists[LEXICAL_SIGNAL] = search_lexical(store, q.text, depth, q.modalities or None)
    return lists


def fuse(q: Query, lists: Mapping[str, Ranked], fuser: Fuser, k: int) -> list[Fused]:
    """Fuse the candidate lists: encoders by ``fuser``, then lexical by the hybrid rule."""
    if q.fusion not in FUSIONS:
        raise QueryError(f"unknown fusion {q.fusion!r}", hint=f"valid: {', '.join(FUSIONS)}")
    if not 0.0 <= q.lexical_weight <= 1.0:
        raise QueryError(f"lexical_weight must lie in [0, 1], got {q.lexical_weight}")
    if LEXICAL_SIGNAL not in lists or len(lists) == 1 or q.fusion == "rrf":
        return fuser.fuse(lists, k)
    dense_lists = {n: r for n, r in lists.items() if n != LEXICAL_SIGNAL}
    deepest = max(len(r) for r in lists.values())
    dense = fuser.fuse(dense_lists, deepest)
    return linear_fusion(dense, lists[LEXICAL_SIGNAL], k, q.lexical_weight)


def list_depth(q: Query, n_lists: int) -> int:
    """How deep each candidate list goes: fusion and reranking need more than ``top``."""
    depth = q.top if n_lists <= 1 else max(q.top * 5, 50)
    if q.rerank is not None:
        depth = max(depth, q.rerank_depth)
    return depth


def fused_depth(q: Query) -> int:
    return max(q.top, q.rerank_depth) if q.rerank is not None else q.top


def rerank(
    q: Query, fused: list[Fused], items: Mapping[str, StoredItem], store_path: Path
) -> list[Fused]:
    """Re-score the first ``q.rerank_depth`` candidates; the rest keep their order below."""
    if q.rerank is None or not fused:
        return fused
    if q.rerank_depth < 1:
        raise QueryError(f"rerank_depth must be at least 1, got {q.rerank_depth}")
    if not 0.0 <= q.rerank_weight <= 1.0:
        raise QueryError(f"rerank_weight must be between 0 and 1, got {q.rerank_weight}")
    head = [f for f in fused[: q.rerank_depth] if f.item_id in items]
    candidates = [
        Candidate(
            item_id=f.item_id,
            modality=items[f.item_id].modality,
            text=items[f.item_id].text,
            image_path=(store_path / p) if (p := items[f.item_id].preview) else None,
        )
        for f in head
    ]
    scores = q.rerank.score(q.text or "", candidates)
    if len(scores) != len(candidates):
        raise QueryError(
            f"reranker {q.rerank.name} returned {len(scores)} scores for {len(candidates)} "
            "candidates"
        )
    final = [float(x) for x in scores]
    if q.rerank_weight < 1.0:
        w = q.rerank_weight
        final = [
            float(w * r + (1.0 - w) * f)
            for r, f in zip(standardise(final), standardise([h.score for h in head]), strict=True)
        ]
    order = sorted(range(len(head)), key=lambda i: (-final[i], i))
    out = [
        Fused(head[i].item_id, final[i], {**head[i].signals, q.rerank.name: float(scores[i])})
        for i in order
    ]
    return out + fused[q.rerank_depth :]


def cut(q: Query, fused: list[Fused]) -> list[Fused]:
    fused = fused[: q.top]
    if q.cutoff is None:
        return fused
    return fused[: q.cutoff.keep([f.score for f in fused])]


__all__ = [
    "FUSIONS",
    "LEXICAL_SIGNAL",
    "after_index",
    "candidate_lists",
    "cut",
    "fuse",
    "fused_depth",
    "list_depth",
    "rerank",
    "store_calibration",
]
