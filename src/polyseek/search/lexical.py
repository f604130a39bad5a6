"""Lexical retrieval: BM25 over the items' text, through the store's full-text index.

A user's query is plain words: punctuation that LanceDB's query parser would read as
operators is dropped here, then :meth:`polyseek.store.base.Store.search_text` ranks the
visible items (rows of unfinished writes are filtered out as in vector search).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from polyseek.store.base import Store
from polyseek.types import Modality

# LanceDB's query parser treats these as operators; a user's query is plain words.
_QUERY_SPECIALS = re.compile(r"[^\w\s]+", re.UNICODE)


def clean_query(text: str) -> str:
    return " ".join(_QUERY_SPECIALS.sub(" ", text).split())


def search_lexical(
    store: Store,
    text: str,
    k: int,
    modalities: Sequence[Modality] | None = None,
) -> list[tuple[str, float]]:
    """Top-k (item id, BM25 score) for a text query, visible items only, best first."""
    query = clean_query(text)
    if not query or k < 1:
        return []
    return store.search_text(query, k, modalities)


__all__ = ["clean_query", "search_lexical"]
