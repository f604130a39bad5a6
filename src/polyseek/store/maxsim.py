"""MaxSim (late interaction) over the rows of a :class:`~polyseek.store.base.VectorView`.

A late-interaction encoder (ColPali, :mod:`polyseek.encoders.colpali`) stores an item as
many rows, e.g. a page's pooled token vectors. For a query token matrix ``Q`` (n x d, rows
L2-normalised) an item scores ``sum_i max_r Q[i] . row_r``: each query token finds its
best row of the item, and the best matches add up. The search is exact:

* the view's rows are grouped by item once (:func:`item_rows`, kept with the view, so once
  per table version). An item's rows are normally contiguous (they are written together);
  when they are not, a permutation makes them so;
* items are scored a block of rows at a time: one matrix product of the block with every
  query token of the batch, ``np.maximum.reduceat`` over each item's rows, then
  ``np.add.reduceat`` over each query's tokens. No Python loop runs per item or per row,
  every query of a batch shares one pass over the matrix, and the temporaries stay near
  :data:`BLOCK_BYTES`;
* the modality filter applies per item; the top k are chosen with ties broken by item id.

Measured on our shared 2-core machine (``benchmarks/maxsim.py``: 10,000 pages x 64 rows
x 128 dims, 312 MB; 25-token queries; the methods alternated query by query under a load
average of 6.2): 369 ms per query alone, 183 ms per query in batches of 8, 349 ms through
``LanceStore.search_multivector``, against 775 ms for transformers'
``ColPaliProcessor.score_retrieval`` on the same vectors, with identical top-10s; grouping
the rows took 19 ms, once per table version. A single query is bound by its matrix
product (25 x 128 x 640,000 multiply-adds, 4 GFLOP): a plain Python loop of one small
product per page measured about the same (383 ms), and only sharing the pass over the
matrix between the queries of a batch goes below it. Going much lower needs a
candidate pass that is not exact (e.g. the pages' mean vectors first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from polyseek.errors import QueryError
from polyseek.store.base import VectorView
from polyseek.types import MODALITY_CODES, Modality

BLOCK_BYTES = 16 << 20  # similarities held at once (rows of a block x query tokens)
MIN_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class ItemRows:
    """A view's rows grouped by item: item ``g`` owns rows ``order[starts[g]:starts[g+1]]``
    (``order`` None: rows ``starts[g]:starts[g+1]`` themselves)."""

    order: np.ndarray | None
    starts: np.ndarray  # int64, one more than there are items
    ids: np.ndarray  # object array, one item id per group
    modality: np.ndarray  # int8 modality code per group

    def __len__(self) -> int:
        return len(self.ids)


def item_rows(view: VectorView) -> ItemRows:
    """The grouping of ``view``'s rows by item (computed once per view)."""
    return view.derived("maxsim_item_rows", _group_rows)


def _group_rows(view: VectorView) -> ItemRows:
    ids = view.ids
    n = len(ids)
    if n == 0:
        return ItemRows(None, np.zeros(1, np.int64), ids[:0], view.modality[:0])
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    order = None
    if len(set(ids[starts].tolist())) != len(starts):  # some item's rows are apart
        _, inverse = np.unique(ids.astype(str), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        grouped = inverse[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    first = starts if order is None else order[starts]
    return ItemRows(order, np.r_[starts, n].astype(np.int64), ids[first], view.modality[first])


def query_matrix(query: np.ndarray, dim: int) -> np.ndarray:
    """A query's token vectors as a non-empty float32 (tokens x dim) matrix (1-D: one token)."""
    q = np.asarray(query, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim or len(q) == 0:
        raise QueryError(
            f"a MaxSim query must be a (tokens, {dim}) matrix, got shape {q.shape}",
            hint="embed the query with the late-interaction encoder's embed_query_tokens",
        )
    return np.ascontiguousarray(q)


def maxsim_search(
    view: VectorView,
    queries: Sequence[np.ndarray],
    k: int,
    modalities: Sequence[Modality] | None = None,
) -> list[list[tuple[str, float]]]:
    """Top-k (item id, MaxSim score) per query token matrix over the items of ``view``."""
    dim = view.matrix.shape[1]
    qs = [query_matrix(q, dim) for q in queries]
    groups = item_rows(view)
    if not qs:
        return []
    if len(groups) == 0 or k < 1:
        return [[] for _ in qs]
    keep = None
    if modalities:
        keep = np.isin(groups.modality, [MODALITY_CODES[m] for m in modalities])
    scores = _item_scores(view.matrix, groups, qs)
    return [_top(row, groups.ids, k, keep) for row in scores]


def _item_scores(matrix: np.ndarray, groups: ItemRows, qs: list[np.ndarray]) -> np.ndarray:
    """(queries x items) MaxSim scores, one pass over ``matrix`` for the whole batch."""
    tokens = np.concatenate(qs)  # (all query tokens, dim)
    q_starts = np.cumsum([0] + [len(q) for q in qs[:-1]])
    starts, n_items = groups.starts, len(groups)
    block = max(MIN_BLOCK_ROWS, BLOCK_BYTES // (4 * len(tokens)))
    out = np.empty((len(qs), n_items), dtype=np.float32)
    a = 0
    while a < n_items:
        # Whole items only: as many as fit in ``block`` rows, at least one.
        b = int(np.searchsorted(starts, starts[a] + block, side="right")) - 1
        b = min(max(b, a + 1), n_items)
        r0, r1 = int(starts[a]), int(starts[b])
        rows = matrix[r0:r1] if groups.order is None else matrix[groups.order[r0:r1]]
        # Tokens x rows, so that each item's rows are contiguous in memory for the max
        # (reducing along the other axis measured 20x slower).
        sims = tokens @ rows.T
        best = np.maximum.reduceat(sims, starts[a:b] - r0, axis=1)  # (tokens, items)
        out[:, a:b] = np.add.reduceat(best, q_starts, axis=0)
        a = b
    return out


def _top(
    scores: np.ndarray, ids: np.ndarray, k: int, keep: np.ndarray | None
) -> list[tuple[str, float]]:
    candidates = np.flatnonzero(keep) if keep is not None else np.arange(len(scores))
    if len(candidates) == 0:
        return []
    values = scores[candidates]
    if k < len(candidates):  # everything tied with the k-th best stays in, for the id order
        kth = np.partition(values, len(values) - k)[len(values) - k]
        candidates = candidates[values >= kth]
    chosen = sorted(candidates.tolist(), key=lambda g: (-float(scores[g]), str(ids[g])))[:k]
    return [(str(ids[g]), float(scores[g])) for g in chosen]


def maxsim_scores(view: VectorView, query: np.ndarray, item_ids: Iterable[str]) -> dict[str, float]:
    """The MaxSim score of each of ``item_ids`` (those without rows in ``view`` left out)."""
    q = query_matrix(query, view.matrix.shape[1])
    out: dict[str, float] = {}
    for item_id in item_ids:
        rows = view.rows_of(item_id)
        if len(rows):
            out[item_id] = float((view.matrix[rows] @ q.T).max(axis=0).sum())
    return out


__all__ = ["BLOCK_BYTES", "ItemRows", "item_rows", "maxsim_scores", "maxsim_search", "query_matrix"]
