"""What a new user trips over in the web UI (issue 16): the key prompt, snippets and
highlights on every card, ranks instead of raw scores, the answer box of an earlier
question, refused files, clip queries, and a moment that stops before the next shot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.helpers.served import AUDIO_SOURCE, READ_KEY, VIDEO_SOURCE, Server

TIMEOUT = 20_000  # ms
IMAGE = "images/pump-housing-exploded-view.png"


def wait_status(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "document.getElementById('status-text').textContent.includes('files')", timeout=TIMEOUT
    )


def search(page, text: str, modality: str = "") -> None:  # type: ignore[no-untyped-def]
    page.select_option("#modality", modality)
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_function(
        "!document.getElementById('results').hasAttribute('aria-busy')", timeout=TIMEOUT
    )


def test_without_a_key_a_clear_prompt(browser_context, server: Server, artifacts: Path) -> None:
    """Item 4: no raw API text in the header; a styled prompt that takes the key."""
    page = browser_context.new_page()
    try:
        page.goto(server.url)
        page.evaluate("localStorage.removeItem('polyseek-key')")
        page.reload()
        page.wait_for_selector("#key-form:not([hidden])", timeout=TIMEOUT)
        assert page.inner_text("#status-text") == "API key needed"
        shown = page.inner_text("body")
        assert "X-API-Key" not in shown and "needs an API key" in shown
        style = page.evaluate(
            "(() => { const s = getComputedStyle(document.getElementById('key-form'));"
            " return [s.borderLeftWidth, s.backgroundColor]; })()"
        )
        assert style == ["4px", "rgb(255, 255, 255)"]
        page.screenshot(path=str(artifacts / "ui-key-prompt.png"), full_page=True)
        page.fill("#key", "not-the-key")
        page.press("#key", "Enter")
        page.wait_for_function(
            "document.getElementById('key-error').textContent.includes('not accepted')",
            timeout=TIMEOUT,
        )
        assert page.is_visible("#key-form")
        page.fill("#key", READ_KEY)
        page.press("#key", "Enter")
        wait_status(page)
        assert not page.is_visible("#key-form")
    finally:
        page.close()


@pytest.fixture(scope="module")
def page(browser_context, server: Server):  # type: ignore[no-untyped-def]
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/#key={READ_KEY}")
    wait_status(page)
    yield page
    assert not errors, errors
    page.close()


def test_cards_show_snippets_content_words_and_ranks(page, artifacts: Path) -> None:
    """Items 1, 2, 7: a snippet under every thumbnail, stopwords not marked, the rank shown
    (the raw score only in the tooltip and the details)."""
    search(page, "the exploded view of the pump housing")
    cards = page.evaluate(
        "state.hits.map((h, i) => { const c = document.querySelectorAll('#results .card')[i];"
        " return {snippet: h.snippet, score: h.score, rank: h.rank,"
        " thumb: !!c.querySelector('img.thumb'), snip: !!c.querySelector('.snip'),"
        " text: c.querySelector('.meta').innerText}; })"
    )
    assert any(c["thumb"] and c["snip"] for c in cards), cards
    assert all(c["snip"] for c in cards if c["snippet"]), cards
    for c in cards:
        assert f"#{c['rank']}" in c["text"] and f"{c['score']:.3f}" not in c["text"]
    marked = {m.lower() for m in page.locator("#results mark").all_inner_texts()}
    assert "pump" in marked and not marked & {"the", "of"}, marked
    page.screenshot(path=str(artifacts / "ui-cards-snippets.png"), full_page=True)
    page.locator("#results .card").first.click()
    page.wait_for_selector("#detail-score:not([hidden])", timeout=TIMEOUT)
    assert f"raw score {cards[0]['score']:.4f}" in page.inner_text("#detail-score")
    assert "rank 1 of" in page.inner_text("#detail-score")
    page.keyboard.press("Escape")


def test_a_new_search_clears_the_answer(page) -> None:
    """Item 3: the answer to an earlier question does not stay above new results."""
    page.fill("#question", "What does ALBEF align before fusing?")
    page.click("#ask-button")
    page.locator("#answer .sentence").first.wait_for(timeout=TIMEOUT)
    search(page, "pump maintenance manual", "page")
    assert not page.is_visible("#answer") and page.inner_text("#answer") == ""


def test_a_refused_file_says_why(page) -> None:
    """Item 5: a file that is neither a picture nor a clip is not dropped silently."""
    page.evaluate(
        "(() => { const dt = new DataTransfer();"
        " dt.items.add(new File(['x'], 'notes.txt', {type: 'text/plain'}));"
        " document.getElementById('drop').dispatchEvent("
        "   new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); })()"
    )
    message = page.inner_text("#message")
    assert "notes.txt" in message and "was not added" in message and "text/plain" in message
    assert page.evaluate("state.image") is None and not page.is_visible("#image-chip")


def test_clip_queries(page, served_root: Path, artifacts: Path) -> None:
    """Item 6: a video clip searches by its keyframes; an audio clip on an index without
    an audio-text encoder says what is missing."""
    page.fill("#q", "")
    page.select_option("#modality", "")
    try:
        with page.expect_response(lambda r: r.url.endswith("/api/search")) as searched:
            page.set_input_files("#image-file", str(served_root / VIDEO_SOURCE))  # searches
        assert searched.value.status == 200, searched.value.text()
        page.wait_for_function(
            "document.querySelector('#results .card') && "
            "!document.getElementById('results').hasAttribute('aria-busy')",
            timeout=TIMEOUT,
        )
        assert page.inner_text("#image-name") == "clip: pump-demo.mp4"
        assert page.inner_text("#message") == ""
        assert not page.is_visible("#image-thumb")  # a clip has no picture to show
        page.screenshot(path=str(artifacts / "ui-clip-query.png"), full_page=True)
        page.set_input_files("#image-file", str(served_root / AUDIO_SOURCE))
        page.wait_for_function(
            "document.getElementById('message').textContent.includes('audio-text encoder')",
            timeout=TIMEOUT,
        )
    finally:
        page.click("#image-clear")


def test_a_moment_stops_before_the_next_shot(page) -> None:
    """Item 8: the first shot (0-3 s, the cut at 3 s) pauses on its own last frame (red),
    not on the first frame of the next shot (blue)."""
    search(page, "welcome to the pump room tour", "video")
    card = page.locator("#results .card").first
    card.wait_for(timeout=TIMEOUT)
    assert "0:00–0:03" in card.inner_text()
    card.click()
    page.wait_for_function(
        "(() => { const p = document.getElementById('player');"
        " return p && p.tagName === 'VIDEO' && p.readyState >= 2 && !p.paused; })()",
        timeout=TIMEOUT,
    )
    page.evaluate("document.getElementById('player').currentTime = 2.3")  # inside: still stops
    page.wait_for_function(
        "(() => { const p = document.getElementById('player');"
        " return p.paused && !p.seeking && p.readyState >= 2; })()",
        timeout=TIMEOUT,
    )
    at = page.evaluate("document.getElementById('player').currentTime")
    assert 2.9 <= at < 3.0, at
    pixel = page.evaluate(
        "(() => { const p = document.getElementById('player');"
        " const c = document.createElement('canvas'); c.width = p.videoWidth;"
        " c.height = p.videoHeight; const g = c.getContext('2d'); g.drawImage(p, 0, 0);"
        " return Array.from(g.getImageData(4, 4, 1, 1).data).slice(0, 3); })()"
    )
    assert pixel[0] > 150 and pixel[2] < 90, pixel  # the first shot's red, not the blue
    page.keyboard.press("Escape")


def test_an_image_search_still_works(page) -> None:
    """After a clip, a picture is a picture again (sent as ``image``, its thumbnail shown)."""
    page.fill("#q", "")  # no modifier: the picture alone
    page.select_option("#modality", "")
    page.set_input_files("#image-file", str(SAMPLE / IMAGE))
    try:
        page.wait_for_function(
            "document.querySelector('#results .card') && "
            "document.querySelector('#results .card').dataset.modality === 'image'",
            timeout=TIMEOUT,
        )
        assert page.is_visible("#image-thumb")
    finally:
        page.click("#image-clear")
