"""Snippets and the query words a client highlights (issue 16: stopwords were marked)."""

from __future__ import annotations

from polyseek.rag.lexical import STOPWORDS
from polyseek.search.snippets import FUNCTION_WORDS, content_words, snippet


def test_content_words_drop_function_words_once_each() -> None:
    assert content_words("The pump of a car, the PUMP and 3 bolts") == ["pump", "car", "3", "bolts"]
    assert content_words("what is the") == []
    assert content_words(None) == []
    # The answer checks keep their own scaffolding on top of the same function words.
    assert FUNCTION_WORDS < STOPWORDS and "paper" in STOPWORDS - FUNCTION_WORDS


def test_snippet_window_follows_content_words_not_stopwords() -> None:
    # Stopwords counted as matches made the filler (the, and, with) outscore the passage.
    filler = "The cat and the dog sat there with the owner of a house. " * 3
    text = filler + "Tighten housing bolts to 25 Nm."
    got = snippet(text, "with the housing and the bolts", width=60)
    assert "housing bolts" in got, got
