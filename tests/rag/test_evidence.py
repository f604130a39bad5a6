"""What ask reads answers from: whole items at their own locators, a PDF page once."""

from __future__ import annotations

from polyseek.rag.base import Evidence
from polyseek.rag.evidence import retrieve
from polyseek.rag.scoring import pool
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
    assert len(evidence) == 8 and len({e.item_id for e in evidence}) == 8
    assert [e.id for e in evidence] == list(range(1, len(evidence) + 1))
    whole = [
        (e.source, e.locator.page)
        for e in evidence
        if e.modality == "page" and e.locator.region is None
    ]
    assert whole and len(whole) == len(set(whole))  # a page and its regions: the page once
    # Only tables stay beside their page (their rows hold the cells the page lists one per
    # line), each after it.
    for i, e in enumerate(evidence):
        if e.locator.region is not None:
            assert e.locator.region == "table"
            assert any(
                (p.source, p.locator.page, p.locator.region) == (e.source, e.locator.page, None)
                for p in evidence[:i]
            )
    page = next(e for e in evidence if e.locator.page == 1 and e.locator.region is None)
    assert "| --- |" not in page.text  # the page text, not the table's Markdown


def test_a_table_row_the_page_states_is_scored_once(listings_engine) -> None:
    evidence = retrieve(listings_engine, FILTER_Q, top=8)
    assert any(e.locator.region == "table" for e in evidence), "no table evidence"
    texts = [s.text for _, s in pool(evidence)]
    assert "Replace the intake filter cartridge FC-40 every 500 operating hours" in texts
    assert "Replace the intake filter cartridge FC-40 | every 500 operating hours" not in texts


def test_near_is_the_passages_holding_a_span() -> None:
    text = "First passage here. Second one there. Third and last."
    e = Evidence(1, "i", "a.txt", "text", Locator(), text, 1.0, passages=((0, 19), (20, 37)))
    assert e.near(0, 5) == "First passage here."
    assert e.near(15, 25) == "First passage here.\nSecond one there."
    assert e.near(40, 45) == text  # no passage covers it: the whole item
    assert Evidence(2, "j", "b.txt", "text", Locator(), text, 1.0).near(0, 5) == text
