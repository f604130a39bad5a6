"""The web UI's Filter field (a `where` expression, applied before ranking) and the bar
of each hit's score parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.served import READ_KEY, Server

TIMEOUT = 20_000  # ms


@pytest.fixture(scope="module")
def page(browser_context, server: Server):  # noqa: ANN001
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/#key={READ_KEY}")
    page.wait_for_function(
        "document.getElementById('status-text').textContent.includes('files')", timeout=TIMEOUT
    )
    yield page
    assert not errors, errors
    page.close()


def search(page, text: str, where: str = "", top: int = 6) -> None:  # noqa: ANN001
    page.fill("#q", text)
    page.fill("#where", where)
    page.fill("#top", str(top))
    page.press("#q", "Enter")
    page.wait_for_function(
        "!document.getElementById('results').hasAttribute('aria-busy')", timeout=TIMEOUT
    )


def test_filter_field_restricts_hits_and_keeps_top(page, artifacts: Path) -> None:  # noqa: ANN001
    search(page, "contrastive learning", where="source GLOB 'pdfs/*'", top=5)
    cards = page.locator("#results .card")
    assert cards.count() == 5
    assert all("pdfs/" in cards.nth(i).inner_text() for i in range(5))
    # the field's help comes from the API's declaration of the option
    assert "SQL-like" in (page.get_attribute("#where", "title") or "")
    page.screenshot(path=str(artifacts / "ui-where-filter.png"), full_page=True)


def test_bad_filter_shows_the_error(page) -> None:  # noqa: ANN001
    search(page, "pump", where="colour = 'red'")
    message = page.inner_text("#message")
    assert "unknown field 'colour'" in message
    assert page.locator("#results .card").count() == 0


def test_each_hit_shows_its_score_parts(page, artifacts: Path) -> None:  # noqa: ANN001
    search(page, "pump housing bolts", where="")
    card = page.locator("#results .card").first
    card.wait_for(timeout=TIMEOUT)
    bar = card.locator(".explain")
    label = bar.get_attribute("aria-label") or ""
    assert "lexical" in label and "minilm" in label
    signals = bar.locator(".seg").evaluate_all("els => els.map(e => e.dataset.signal)")
    assert "lexical" in signals
    widths = bar.locator(".seg").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert abs(sum(widths) - 100) < 1 and all(w >= 0 for w in widths)
    box = bar.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] >= 4
    page.screenshot(path=str(artifacts / "ui-explain-bars.png"), full_page=True)
