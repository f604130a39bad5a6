"""The web UI in headless Chromium: search by text and image, open a PDF page, play a
moment, ask with citations, more like this, keyboard; a screenshot per step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.helpers.served import (
    ADMIN_KEY,
    AUDIO_END,
    AUDIO_SOURCE,
    AUDIO_START,
    READ_KEY,
    VIDEO_MOMENT,
    VIDEO_SOURCE,
    Server,
)

PAPER = "align-before-fuse-vision-and-language-representation-learning-with-momentum.md"
IMAGE = "images/pump-housing-exploded-view.png"
TIMEOUT = 20_000  # ms


@pytest.fixture(scope="module")
def page(browser_context, server: Server):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The key arrives in the URL fragment (as `polyseek serve` prints it).
    page.goto(f"{server.url}/#key={READ_KEY}")
    page.wait_for_function(
        "document.getElementById('status-text').textContent.includes('files')", timeout=TIMEOUT
    )
    yield page
    assert not errors, errors
    page.close()


def first_card(page):
    card = page.locator("#results .card").first
    card.wait_for(timeout=TIMEOUT)
    return card


def search(page, text: str, modality: str = "") -> None:
    page.select_option("#modality", modality)
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_function(
        "!document.getElementById('results').hasAttribute('aria-busy')", timeout=TIMEOUT
    )


def test_key_leaves_the_url_and_status_shows(page) -> None:
    assert "key=" not in page.url
    assert "audio" in page.inner_text("#status-text")
    # Issue 15: no key in a script-readable cookie (cookies are shared across ports);
    # the media cookie the server set is HttpOnly, so scripts do not see it either.
    assert page.evaluate("document.cookie") == ""
    cookies = page.context.cookies()
    assert cookies and all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies)
    assert all(READ_KEY not in c["value"] for c in cookies)


def test_highlighting_escapes_after_matching(page) -> None:
    """Issue 15: a query with "amp" or "quot" showed &amp;/&quot; literally."""
    html = page.evaluate("highlight('fish & chips \"quoted\" <b>', ['amp', 'quot', 'chips', 'lt'])")
    assert html == "fish &amp; <mark>chips</mark> &quot;<mark>quot</mark>ed&quot; &lt;b&gt;"


def test_search_by_text(page, artifacts: Path) -> None:
    search(page, "ALBEF momentum distillation", "text")
    assert PAPER in first_card(page).inner_text()
    page.screenshot(path=str(artifacts / "ui-text-search.png"), full_page=True)


def test_ranking_options_panel_comes_from_the_api(page, artifacts: Path) -> None:
    """Every ranking option the API declares is a control; a changed one reaches the server."""
    page.click("#ranking summary")
    page.wait_for_selector("#rank-lexical", timeout=TIMEOUT)
    declared = page.evaluate("state.ranking.map(o => o.name)")
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#ranking-options [data-option]'))"
        ".map(e => e.dataset.option)"
    )
    assert set(declared) - {"encoders", "where"} == set(shown)  # where: the Filter field
    page.select_option("#rank-lexical", "true")
    page.select_option("#rank-dense", "false")
    search(page, "ALBEF momentum distillation", "text")
    assert PAPER in first_card(page).inner_text()
    page.screenshot(path=str(artifacts / "ui-ranking-options.png"), full_page=True)
    first_card(page).click()
    page.wait_for_selector("#detail:not([hidden])", timeout=TIMEOUT)
    page.keyboard.press("Escape")
    for name in ("lexical", "dense"):  # back to the declared defaults (lexical is now on)
        page.select_option(f"#rank-{name}", page.get_attribute(f"#rank-{name}", "data-default"))
    assert page.evaluate("rankingValues()") == []
    page.click("#ranking summary")


def test_search_by_uploaded_image(page, artifacts: Path) -> None:
    page.fill("#q", "")
    page.select_option("#modality", "")
    page.set_input_files("#image-file", str(SAMPLE / IMAGE))  # searches at once
    try:
        page.wait_for_function(
            "document.querySelector('#results .card') && "
            "document.querySelector('#results .card').dataset.modality === 'image' && "
            f"document.querySelector('#results .card').innerText.includes('{Path(IMAGE).name}')",
            timeout=TIMEOUT,
        )
        assert page.is_visible("#image-chip") and page.is_visible("#modifier-hint")
        thumb = first_card(page).locator("img.thumb")
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        page.screenshot(path=str(artifacts / "ui-image-search.png"), full_page=True)
    finally:  # a failure here must not turn the later text searches into composed ones
        page.click("#image-clear")
    assert not page.is_visible("#image-chip")


def test_open_a_pdf_page_with_highlighted_text(page, artifacts: Path) -> None:
    search(page, "pump maintenance manual", "page")
    card = first_card(page)
    assert "pdfs/" in card.inner_text()
    card.click()
    page.wait_for_function(
        "(() => { const i = document.getElementById('detail-image');"
        " return i && i.complete && i.naturalWidth > 0; })()",
        timeout=TIMEOUT,
    )
    assert page.locator("#detail-text mark").count() > 0
    assert "page" in page.inner_text("#detail-locator")
    assert "#page=" in (page.get_attribute("#detail-open", "href") or "")
    page.screenshot(path=str(artifacts / "ui-pdf-page.png"), full_page=True)
    page.keyboard.press("Escape")
    assert not page.is_visible("#detail")


def test_a_page_hit_shows_its_box_on_the_page(page, artifacts: Path) -> None:
    """The passage or region that matched is drawn on the page render (issue 10)."""
    search(page, "tighten the housing bolts to 25 Nm in a star pattern", "page")
    first_card(page).click()
    page.wait_for_selector(".page-frame .bbox", timeout=TIMEOUT)
    frame = page.locator(".page-frame").bounding_box()
    box = page.locator(".page-frame .bbox").first.bounding_box()
    assert frame and box and box["width"] > 10 and box["height"] > 5
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    assert "page 2" in page.inner_text("#detail-locator")
    page.screenshot(path=str(artifacts / "ui-pdf-box.png"), full_page=True)
    page.keyboard.press("Escape")


def player_time_when(page, condition: str) -> float:  # type: ignore[no-untyped-def]
    """Wait until ``condition`` (JS, the player is ``p``) holds; the player's time then."""
    page.wait_for_function(
        f"(() => {{ const p = document.getElementById('player'); return p && {condition}; }})()",
        timeout=TIMEOUT,
    )
    return float(page.evaluate("document.getElementById('player').currentTime"))


def test_play_from_the_moment(page, artifacts: Path) -> None:
    search(page, "calibration tone", "audio")
    card = first_card(page)
    assert AUDIO_SOURCE in card.inner_text() and "0:02–0:04" in card.inner_text()
    card.click()
    start = player_time_when(page, f"p.readyState >= 1 && p.currentTime >= {AUDIO_START} - 0.01")
    assert AUDIO_START - 0.01 <= start < AUDIO_START + 2.5
    page.screenshot(path=str(artifacts / "ui-moment.png"), full_page=True)
    # The 6 s file stops at the moment's end (4 s, less a hair), not at the end of the file.
    stopped = player_time_when(page, f"p.paused && p.currentTime >= {AUDIO_END} - 0.05")
    assert AUDIO_END - 0.05 <= stopped < AUDIO_END
    page.keyboard.press("Escape")


def test_play_video_from_the_moment(page, artifacts: Path) -> None:
    search(page, "replace the filter cartridge", "video")
    card = first_card(page)
    assert VIDEO_SOURCE in card.inner_text() and "0:03–0:06" in card.inner_text()
    thumb = card.locator("img.thumb")  # the moment's keyframe
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    card.click()
    start = VIDEO_MOMENT[0]
    at = player_time_when(
        page, f"p.tagName === 'VIDEO' && p.readyState >= 1 && p.currentTime >= {start} - 0.01"
    )
    assert start - 0.01 <= at < VIDEO_MOMENT[1]
    page.screenshot(path=str(artifacts / "ui-video-moment.png"), full_page=True)
    page.keyboard.press("Escape")


def test_ask_with_citations(page, artifacts: Path) -> None:
    page.fill("#question", "What does ALBEF align before fusing?")
    page.click("#ask-button")
    page.locator("#answer .sentence").first.wait_for(timeout=TIMEOUT)
    cite = page.locator("#answer .cite").first
    assert PAPER in (cite.get_attribute("title") or "")
    assert PAPER in page.inner_text("#answer .sources")
    page.screenshot(path=str(artifacts / "ui-ask.png"), full_page=True)
    cite.click()  # opens the cited evidence
    page.wait_for_function(
        f"document.getElementById('detail-title').textContent.includes('{PAPER}')",
        timeout=TIMEOUT,
    )
    page.keyboard.press("Escape")
    page.fill("#question", "Who won the football world cup in 2014?")
    page.press("#question", "Enter")
    page.locator("#answer .no-answer").wait_for(timeout=TIMEOUT)


def test_more_like_this_and_keyboard(page) -> None:
    search(page, "ALBEF momentum distillation", "text")
    first_id = first_card(page).get_attribute("data-item-id")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    # Tab to the first result and open it with Enter.
    first_card(page).focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.index") == "1"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible", timeout=TIMEOUT)
    page.click("#more-like-this")
    page.wait_for_function(
        f"document.querySelector('#results .card') && "
        f"![...document.querySelectorAll('#results .card')]"
        f".some(c => c.dataset.itemId === '{first_id}')",
        timeout=TIMEOUT,
    )
    assert page.locator("#results .card").count() > 0


def test_reindex_shows_progress(browser_context, served_root_copy, artifacts: Path) -> None:
    """With the admin key, Re-index starts a run; the header shows progress, then the tally."""
    root, srv = served_root_copy
    new = sorted((SAMPLE / "papers").iterdir())[60:66]
    for p in new:
        (root / "papers" / p.name).write_bytes(p.read_bytes())
    page = browser_context.new_page()
    try:
        page.goto(f"{srv.url}/#key={ADMIN_KEY}")
        page.wait_for_function(
            "document.getElementById('status-text').textContent.includes('files')",
            timeout=TIMEOUT,
        )
        page.click("#reindex")
        page.wait_for_function(
            "document.getElementById('status-text').textContent.includes('indexing')",
            timeout=TIMEOUT,
        )
        assert page.is_visible("#index-progress")
        page.screenshot(path=str(artifacts / "ui-indexing.png"), full_page=True)
        page.wait_for_function(
            f"document.getElementById('status-text').textContent.includes('indexed (+{len(new)}')",
            timeout=120_000,
        )
        assert not page.is_visible("#index-progress")
    finally:
        page.close()


def test_api_docs_render_without_a_cdn(browser_context, server: Server) -> None:
    page = browser_context.new_page()
    outside: list[str] = []  # scripts, styles, fonts or data from anywhere else

    def record(r) -> None:  # type: ignore[no-untyped-def]
        local = r.url.startswith((server.url, "blob:", "data:"))
        if not local and r.resource_type in ("script", "stylesheet", "font", "fetch", "xhr"):
            outside.append(r.url)

    page.on("request", record)  # (ReDoc's footer logo is an image from its CDN: cosmetic)
    page.goto(f"{server.url}/docs")
    # Swagger UI (bundled, OpenAPI 3.1) lists the operations from /openapi.json.
    page.wait_for_selector(".opblock-summary-path[data-path='/api/search']", timeout=TIMEOUT)
    page.goto(f"{server.url}/redoc")
    page.wait_for_function(
        "document.body.innerText.includes('/api/search')", timeout=TIMEOUT
    )  # ReDoc (bundled too) rendered the operations
    assert outside == []
    page.close()


def test_status_shows_a_backfill_and_its_end(
    browser_context, served_root: Path, tmp_path: Path, artifacts: Path
) -> None:
    """Issue 13: an encoder added to the live index shows how far its backfill is."""
    import httpx

    from polyseek.engine import Engine
    from tests.helpers.served import KEYS_ENV, copy_collection
    from tests.helpers.tiny_models import make_tiny_clip

    root = copy_collection(served_root, tmp_path / "collection")
    spec = f"clip:{make_tiny_clip(tmp_path / 'second-clip', seed=1)}"
    Engine.open(root).add_encoder(spec, backfill=False)
    srv = Server(root, env=KEYS_ENV)
    page = browser_context.new_page()
    try:
        page.goto(f"{srv.url}/#key={ADMIN_KEY}")
        page.wait_for_function(
            "document.getElementById('status-text').textContent.includes('backfilling 0/')",
            timeout=TIMEOUT,
        )
        assert spec in page.inner_text("#status-text")
        page.screenshot(path=str(artifacts / "ui-backfill.png"), full_page=True)
        started = httpx.post(
            f"{srv.url}/api/encoders/backfill",
            headers={"X-API-Key": ADMIN_KEY},
            json={},
            timeout=60,
        )
        assert started.status_code == 202, started.text
        page.wait_for_function(  # the UI keeps polling while an encoder is pending
            "!document.getElementById('status-text').textContent.includes('backfilling')",
            timeout=120_000,
        )
        assert "files" in page.inner_text("#status-text")
    finally:
        page.close()
        srv.stop()
