"""Lexical retrieval: BM25 over the items' text with LanceDB's built-in full-text index.

The index is built on the ``text`` column of the items table (English stemming, stop
words removed, lower-cased, ASCII-folded). Rows added after the index was built are
still searched (LanceDB scans them flat) until :func:`ensure_fts_index` folds them in;
rows of unfinished writes are filtered out like in vector search.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence

from polyseek.store.lancedb import LanceStore, _sql_list
from polyseek.types import Modality

logger = logging.getLogger(__name__)

FTS_COLUMN = "text"
# LanceDB's query parser treats these as operators; a user's query is plain words.
_QUERY_SPECIALS = re.compile(r"[^\w\s]+", re.UNICODE)


def has_fts_index(store: LanceStore) -> bool:
    return any(
        FTS_COLUMN in ix.columns and ix.index_type == "FTS"
        for ix in store._table("items").list_indices()
    )


def ensure_fts_index(store: LanceStore) -> None:
    """Build (or rebuild, to take in new rows) the BM25 index of the items' text."""
    table = store._table("items")
    if table.count_rows() == 0:
        return
    if has_fts_index(store):
        stats = table.index_stats(f"{FTS_COLUMN}_idx")
        if stats is not None and stats.num_unindexed_rows == 0:
            return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.create_fts_index(FTS_COLUMN, replace=True, with_position=False)
    logger.info("built the full-text index over %d items", table.count_rows())


def clean_query(text: str) -> str:
    return " ".join(_QUERY_SPECIALS.sub(" ", text).split())


def search_lexical(
    store: LanceStore,
    text: str,
    k: int,
    modalities: Sequence[Modality] | None = None,
) -> list[tuple[str, float]]:
    """Top-k (item id, BM25 score) for a text query, visible items only, best first."""
    query = clean_query(text)
    if not query or k < 1:
        return []
    if not has_fts_index(store):
        ensure_fts_index(store)
        if not has_fts_index(store):
            return []
    committed = store._committed()
    search = (
        store._table("items")
        .search(query, query_type="fts", fts_columns=FTS_COLUMN)
        .limit(k + 10)  # room for rows of an unfinished write, filtered out below
        .select(["id", "source", "gen", "_score"])
    )
    if modalities:
        search = search.where(f"modality IN ({_sql_list(list(modalities))})", prefilter=True)
    rows = search.to_arrow().to_pylist()
    visible = [r for r in rows if committed.get(r["source"]) == r["gen"]]
    # Ties broken by id so that the same index always gives the same order.
    visible.sort(key=lambda r: (-float(r["_score"]), r["id"]))
    return [(r["id"], float(r["_score"])) for r in visible[:k]]


__all__ = ["clean_query", "ensure_fts_index", "has_fts_index", "search_lexical"]
