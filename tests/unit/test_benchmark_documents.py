"""The query builders of benchmarks/documents.py: what a task may and may not ask."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from documents_tasks import (  # noqa: E402
    STOPWORDS,
    ManualText,
    normalize,
    scan_pages,
    scan_queries,
    sentence_queries,
    word_queries,
)

FRUITS = "apple banana cherry damson elder fig grape hazel iris juniper kiwi lemon".split()


def _page(n: int) -> str:
    fruit, other = FRUITS[n], FRUITS[(n + 5) % len(FRUITS)]
    body = [
        "Chapter 1: Growing fruit",  # a running header
        str(10 + n),  # the page number
        f"continued from the previous page about {fruit} trees.",
        f"Every gardener who plants a {fruit} tree must water the young roots daily.",
        f"The {other} orchard beside it needs pruning in late winter before the buds open.",
        "Shared advice appears on many pages and is never a query here at all.",
        f"Some growers graft {fruit} scions onto hardy rootstock to survive a cold spring.",
        f"A careful record of each {fruit} harvest helps to plan the next season well.",
        f"This sentence about {fruit} is broken by a hyph-",
        f"enated word and must never become a query for {other} pickers.",
        f"Visitors often ask whether {fruit} blossoms attract bees more than {other} ones.",
        f"Near the end of page {n} the text trails off into the next page where",
        "Copyright the fruit society",  # a running footer
    ]
    return "\n".join(body)


@pytest.fixture(scope="module")
def text() -> ManualText:
    pages = [_page(n) for n in range(8)]
    # The "shared advice" line repeats on every page: a boilerplate line, like a footer.
    return ManualText(pages)


def test_sentences_are_mid_page_unique_and_unbroken(text: ManualText) -> None:
    queries = sentence_queries("fruit", text, limit=100)
    assert len(queries) == 8  # one per page
    for q in queries:
        assert len(q.text.split()) >= 8
        assert text.on_pages(q.text) == 1 and normalize(q.text) in text.norm[q.page - 1]
        for banned in ("Chapter 1", "continued from", "hyph", "trails off", "Shared advice"):
            assert banned not in q.text


def test_boilerplate_and_edges_never_give_a_query(text: ManualText) -> None:
    for index in range(len(text.pages)):
        body = "\n".join(text.body[index])
        assert "Chapter 1" not in body and "Copyright" not in body
        assert "Shared advice" not in body
        assert "continued from" not in body  # the first lines of the page


def test_word_queries_are_content_words_held_by_one_page(text: ManualText) -> None:
    queries = word_queries("fruit", text, limit=100)
    assert queries
    for q in queries:
        words = q.text.split()
        assert 3 <= len(words) <= 6
        assert not set(words) & STOPWORDS
        assert all(w.isalpha() or "-" in w or "'" in w for w in words)
        holders = [n for n, page in enumerate(text.words) if page.issuperset(words)]
        assert holders == [q.page - 1]
        assert "hyph" not in words and "enated" not in words


def test_queries_are_deterministic_and_seeded(text: ManualText) -> None:
    first = sentence_queries("fruit", text, limit=3)
    assert first == sentence_queries("fruit", text, limit=3)
    assert word_queries("fruit", text, 5) == word_queries("fruit", text, 5)
    assert word_queries("fruit", text, 5, seed=1) != word_queries("fruit", text, 5)


def test_scan_queries_point_at_the_page_of_the_scan(text: ManualText) -> None:
    pages = scan_pages("fruit", text, 3)
    assert len(pages) == 3 and pages == sorted(pages)
    queries = scan_queries("fruit", text, pages, per_page=2)
    assert {q.page for q in queries} == {1, 2, 3}
    for q in queries:
        assert q.source_page == pages[q.page - 1]
        assert normalize(q.text) in text.norm[q.source_page - 1]
