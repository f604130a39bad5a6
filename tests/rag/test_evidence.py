"""What ask reads answers from: whole items at their own locators, a PDF page once."""

from __future__ import annotations

from polyseek.rag.base import Evidence
from polyseek.rag.evidence import retrieve
from polyseek.search.base import Ranking
from polyseek.types import Locator

FILTER_Q = "How often should the intake filter cartridge be replaced?"


def test_evidence_is_the_whole_item_at_its_own_locator(listings_engine) -> None:
    evidence = retrieve(listings_engine, "How much multimodal data is M^2IXT tuned on?")
    stored = listings_engine.items([e.item_id for e in evidence])
    for e in evidence:
        item = stored[e.item_id]
        # Not the matching passage's locator: sentence offsets are offsets into e.text.
        assert e.locator == item.locator and e.text == item.text
        assert e.passages == tuple((p.char_start, p.char_end) for p in item.passages)


def test_a_region_hit_brings_its_page_once(listings_engine) -> None:
    regions = Ranking(grain="region")
    hits = listings_engine.search(FILTER_Q, top=8, ranking=regions).hits
    assert any(h.locator.region is not None for h in hits), "the fixture has no region hit"
    evidence = retrieve(listings_engine, FILTER_Q, top=8, ranking=regions)
    pages = [(e.source, e.locator.page) for e in evidence if e.modality == "page"]
    assert pages and len(pages) == len(set(pages))  # a page and its table: one evidence
    assert len(evidence) == 8  # read at page grain: distinct items fill the top
    assert all(e.locator.region is None for e in evidence)
    assert [e.id for e in evidence] == list(range(1, len(evidence) + 1))
    page = next(e for e in evidence if e.locator.page == 1)
    assert "| --- |" not in page.text  # the page text, not the table's Markdown


def test_near_is_the_passages_holding_a_span() -> None:
    text = "First passage here. Second one there. Third and last."
    e = Evidence(1, "i", "a.txt", "text", Locator(), text, 1.0, passages=((0, 19), (20, 37)))
    assert e.near(0, 5) == "First passage here."
    assert e.near(15, 25) == "First passage here.\nSecond one there."
    assert e.near(40, 45) == text  # no passage covers it: the whole item
    assert Evidence(2, "j", "b.txt", "text", Locator(), text, 1.0).near(0, 5) == text
