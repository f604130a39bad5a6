"""Query-side adapters: a map from a new encoder's space into an old one's.

After ``polyseek encoders upgrade OLD NEW`` queries are embedded by NEW and mapped into
OLD's space, so they search OLD's vectors until NEW's own are all computed (the method
of Drift-Adapter, EMNLP 2025). Fitted on pairs (NEW vector, OLD vector) of the same
items, both L2-normalised rows:

* **orthogonal Procrustes**: the rotation ``W`` minimising ``||Y W - X||`` (the SVD of
  ``Y^T X``; ``scipy.linalg.orthogonal_procrustes`` computes the same for equal
  dimensions, the SVD also gives the semi-orthogonal map between different ones);
* **low-rank affine**: ``x W + b`` by ridge regression on centred pairs, then reduced to
  rank ``r`` (the top right singular vectors of the fitted values, reduced-rank
  regression); more freedom than a rotation, still a few hundred parameters per rank.

Each candidate is scored by :func:`retention`: the recall@10 of "NEW query -> adapter ->
OLD vectors" against NEW's exact top 10 over the same items; the caller picks on a dev
split and reports on a held-out one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyseek.encoders.base import l2_normalize

PROCRUSTES = "procrustes"
LOW_RANK_AFFINE = "low-rank-affine"
METHODS = (PROCRUSTES, LOW_RANK_AFFINE)


@dataclass(frozen=True)
class Adapter:
    """``x -> normalise(x @ weight + bias)``: NEW's space (rows of ``weight``) to OLD's."""

    method: str
    weight: np.ndarray  # (dim_new, dim_old)
    bias: np.ndarray  # (dim_old,)
    rank: int = 0  # 0: full

    def apply(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return l2_normalize(x @ self.weight + self.bias)

    def save(self, path: Path) -> None:
        """Write the parameters atomically (``.npz``)."""
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                weight=self.weight.astype(np.float32),
                bias=self.bias.astype(np.float32),
                method=np.array(self.method),
                rank=np.array(self.rank),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Adapter:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                method=str(data["method"]),
                weight=data["weight"],
                bias=data["bias"],
                rank=int(data["rank"]),
            )


def fit_procrustes(new: np.ndarray, old: np.ndarray) -> Adapter:
    """The (semi-)orthogonal ``W`` minimising ``||new W - old||_F``."""
    u, _, vt = np.linalg.svd(new.T.astype(np.float64) @ old.astype(np.float64), full_matrices=False)
    weight = (u @ vt).astype(np.float32)
    return Adapter(PROCRUSTES, weight, np.zeros(old.shape[1], np.float32))


def fit_low_rank_affine(
    new: np.ndarray, old: np.ndarray, rank: int = 0, ridge: float = 1e-2
) -> Adapter:
    """Ridge regression ``old ~ new W + b``, reduced to ``rank`` (0: full rank)."""
    y, x = new.astype(np.float64), old.astype(np.float64)
    my, mx = y.mean(axis=0), x.mean(axis=0)
    yc, xc = y - my, x - mx
    gram = yc.T @ yc + ridge * len(y) * np.eye(y.shape[1])
    weight = np.linalg.solve(gram, yc.T @ xc)
    if 0 < rank < min(weight.shape):
        # The top right singular vectors of the fitted values ``yc @ weight``, from the
        # small (dim x dim) eigenproblem of their Gram matrix, not an SVD of n rows.
        fitted_gram = weight.T @ (yc.T @ yc) @ weight
        _, vectors = np.linalg.eigh(fitted_gram)
        basis = vectors[:, ::-1][:, :rank]
        weight = weight @ basis @ basis.T
    bias = mx - my @ weight
    return Adapter(LOW_RANK_AFFINE, weight.astype(np.float32), bias.astype(np.float32), rank)


def item_max(scores: np.ndarray, owner: np.ndarray, n_items: int) -> np.ndarray:
    """Per query, each item's best score over its rows (``owner[row]`` = item number)."""
    out = np.full((scores.shape[0], n_items), -np.inf, dtype=np.float32)
    np.maximum.at(out.T, owner, scores.T)
    return out


def top_items(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return part


def retention(
    queries_new: np.ndarray,
    corpus_new: np.ndarray,
    corpus_old: np.ndarray,
    owner: np.ndarray,
    adapter: Adapter,
    *,
    k: int = 10,
    exclude: np.ndarray | None = None,
) -> float:
    """Mean over queries of |adapted top-k ∩ NEW's exact top-k| / k, at the item level.

    ``corpus_*`` rows belong to items ``owner[row]`` (0..n-1); ``exclude[q]`` is an item
    left out for query ``q`` (the item the query was taken from), or -1.
    """
    n_items = int(owner.max()) + 1
    exact = item_max(queries_new @ corpus_new.T, owner, n_items)
    adapted = item_max(adapter.apply(queries_new) @ corpus_old.T, owner, n_items)
    if exclude is not None:
        rows = np.flatnonzero(exclude >= 0)
        exact[rows, exclude[rows]] = -np.inf
        adapted[rows, exclude[rows]] = -np.inf
    k = min(k, n_items - (1 if exclude is not None else 0))
    if k < 1 or len(queries_new) == 0:
        return 0.0
    a, b = top_items(exact, k), top_items(adapted, k)
    hits = [len(set(x.tolist()) & set(y.tolist())) for x, y in zip(a, b, strict=True)]
    return float(np.mean(hits) / k)


def known_item_recall(
    queries: np.ndarray,
    corpus: np.ndarray,
    owner: np.ndarray,
    want: np.ndarray,
    adapter: Adapter | None = None,
    *,
    k: int = 10,
) -> float:
    """Share of queries whose item ``want[q]`` is in the top ``k`` items of ``corpus``
    (rows of items ``owner[row]``), the queries mapped by ``adapter`` first if given."""
    if len(queries) == 0:
        return 0.0
    mapped = adapter.apply(queries) if adapter is not None else queries
    n_items = int(owner.max()) + 1
    top = top_items(item_max(mapped @ corpus.T, owner, n_items), min(k, n_items))
    return float(np.mean([w in row.tolist() for w, row in zip(want, top, strict=True)]))


__all__ = [
    "LOW_RANK_AFFINE",
    "METHODS",
    "PROCRUSTES",
    "Adapter",
    "fit_low_rank_affine",
    "fit_procrustes",
    "known_item_recall",
    "retention",
]
