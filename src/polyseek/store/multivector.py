"""Items with several vector rows (max-sim keyframes): one result per item, its best row.

A vector table may hold repeated item ids (``IngestOptions(keyframe_pooling="max")``
stores one row per keyframe). Search must still return each item once, scored by its
best row, and keep ``k`` distinct items. :func:`top_unique` does that on a score row of
the exact path; :func:`dedupe_best` on the best-first rows an ANN search returns.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def dedupe_best(
    pairs: Iterable[tuple[str, float]], k: int | None = None
) -> list[tuple[str, float]]:
    """The first (best) occurrence of each id from best-first ``pairs``, at most ``k``."""
    seen: set[str] = set()
    out: list[tuple[str, float]] = []
    for item_id, score in pairs:
        if item_id in seen:
            continue
        seen.add(item_id)
        out.append((item_id, score))
        if k is not None and len(out) >= k:
            break
    return out


def top_unique(scores: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` best distinct ids by their best score in ``scores`` (one row per vector).

    Takes the top ``k`` rows; if they name fewer than ``k`` distinct ids (an item matched
    with several rows), widens the window (doubling) until ``k`` distinct ids are in it or
    every row is. When the top rows are already distinct this costs what a plain top-k does.
    Equal scores come out in id order (a stable key: row order depends on write history).
    """
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return []
    window = k
    while True:
        if window < n:
            # Every row tied with the window's last score comes along, so which of equal
            # rows make the cut does not depend on where they sit in the table.
            kth = -np.partition(-scores, window - 1)[window - 1]
            top = np.flatnonzero(scores >= kth)
        else:
            top = np.arange(n)
        top = top[np.lexsort((ids[top].astype(str), -scores[top]))]  # ties: by id
        best = dedupe_best(((str(ids[i]), float(scores[i])) for i in top), k)
        if len(best) >= k or window >= n:
            return best
        window = min(n, window * 2)


__all__ = ["dedupe_best", "top_unique"]
