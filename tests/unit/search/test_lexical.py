"""BM25 full-text search over the items table (LanceDB's built-in FTS)."""

from __future__ import annotations

import pytest

from polyseek.search.lexical import clean_query, search_lexical
from tests.helpers.ranking_store import add_items, make_store

V = (1.0, 0.0, 0.0, 0.0)


@pytest.fixture
def store(tmp_path):
    st = make_store(tmp_path / "idx")
    add_items(
        st,
        [
            ("dogs.txt", "text", "Running dogs chase balls in the park", V),
            ("cat.png", "image", "A cat sleeping on a sofa, running nowhere", V),
            ("fox.txt", "text", "The quick brown fox jumps over the lazy dog", V),
        ],
    )
    return st


def ids_to_sources(store, hits):
    items = store.get_items([i for i, _ in hits])
    return [items[i].source for i, _ in hits]


def test_stemmed_match_ranks_best_document_first(store):
    store.ensure_text_index()
    assert store.has_text_index()
    hits = search_lexical(store, "run dog", 10)
    # "run" matches "Running" (stemming); dogs.txt has both words.
    assert ids_to_sources(store, hits)[0] == "dogs.txt"
    assert all(score > 0 for _, score in hits)


def test_modality_filter(store):
    hits = search_lexical(store, "running", 10, modalities=["image"])
    assert ids_to_sources(store, hits) == ["cat.png"]


def test_builds_index_on_first_search_and_sees_later_rows(store):
    assert not store.has_text_index()
    assert search_lexical(store, "sofa", 5)
    add_items(store, [("new.txt", "text", "A sofa catalogue with prices", V)], gen="g2")
    # Rows added after the index was built are searched before the index is refreshed...
    assert "new.txt" in ids_to_sources(store, search_lexical(store, "catalogue", 5))
    store.ensure_text_index()  # ...and folded into it after.
    assert store.unindexed_text_rows() == 0


def test_unfinished_writes_are_invisible(store):
    add_items(store, [("ghost.txt", "text", "zebra zebra zebra", V)], gen="gx", commit=False)
    store.ensure_text_index()
    assert search_lexical(store, "zebra", 5) == []


def test_punctuation_and_empty_queries(store):
    assert clean_query('dogs: (park) AND "fox"!') == "dogs park AND fox"
    assert ids_to_sources(store, search_lexical(store, "dogs: (park)!", 3))[0] == "dogs.txt"
    assert search_lexical(store, "?!", 3) == []
