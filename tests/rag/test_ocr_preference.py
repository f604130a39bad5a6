"""Clean sources first: the text layer is quoted over OCR of an image saying the same, and
badly read OCR lines count for less. Real MiniLM, real OCR of the sample images."""

from __future__ import annotations

import shutil

import pytest

from polyseek.engine import Engine
from polyseek.rag import ask
from polyseek.rag.base import Evidence
from polyseek.rag.evidence import text_encoder
from polyseek.rag.extractive import ExtractiveAnswerer
from polyseek.types import Locator
from tests.conftest import SAMPLE

FILTER_Q = "How often should the intake filter cartridge be replaced?"
LABEL = (
    "Intake filter cartridge FC-40\n\nFor P-200 centrifugal pumps\n"
    "Replace every 500 operating hours"
)
PAGE = (
    "2. Maintenance schedule\nTask\nInterval\nInspect for leaks and vibration\nweekly\n"
    "Replace the intake filter cartridge FC-40\nevery 500 operating hours\n"
)


@pytest.fixture(scope="module")
def encoder(listings_engine):
    return text_encoder(listings_engine)


def label(metadata: dict | None = None, text: str = LABEL, id_: int = 1) -> Evidence:
    meta = {"ocr": True, **(metadata or {})}
    return Evidence(
        id_, f"img{id_}", f"images/label{id_}.png", "image", Locator(), text, 1.0, metadata=meta
    )


def page(id_: int = 2) -> Evidence:
    return Evidence(
        id_,
        "page1",
        "manuals/manual.pdf",
        "page",
        Locator(page=1),
        PAGE,
        0.9,
        metadata={"ocr": False},
    )


def test_text_layer_is_quoted_over_ocr_of_the_same_fact(encoder) -> None:
    answerer = ExtractiveAnswerer(threshold=0.0, max_sentences=1)
    only_ocr = answerer.answer(FILTER_Q, [label()], encoder)
    assert only_ocr.sentences[0].text == "Replace every 500 operating hours"  # OCR still answers
    both = answerer.answer(FILTER_Q, [label(), page()], encoder)
    [sentence] = both.sentences
    assert sentence.citations == (2,)
    assert sentence.text == "Replace the intake filter cartridge FC-40 every 500 operating hours"
    span = sentence.spans[0]
    assert span.locator.page == 1 and PAGE[span.locator.char_start : span.locator.char_end]


def test_badly_read_ocr_counts_less(encoder) -> None:
    answerer = ExtractiveAnswerer(threshold=-5.0, max_sentences=1)
    lines = [[0, 29, 95.0], [31, 58, 95.0], [59, len(LABEL), 95.0]]
    sure = label({"ocr_lines": lines}, id_=1)
    unsure = label({"ocr_lines": [[a, b, 35.0] for a, b, _ in lines]}, id_=2)
    for order in ([sure, unsure], [unsure, sure]):
        answer = answerer.answer(FILTER_Q, order, encoder)
        assert answer.sentences[0].citations == (sure.id,)
    garbled = label(text="TTTTATTHTTTH ~ Replace every 500 operating hours", id_=3)
    ranked = ExtractiveAnswerer(threshold=-5.0, max_sentences=2).answer(
        FILTER_Q, [garbled, label(id_=4)], encoder
    )
    assert ranked.sentences[0].citations == (4,)


@pytest.fixture(scope="module")
def manual_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("manual") / "collection"
    (root / "manuals").mkdir(parents=True)
    shutil.copy2(SAMPLE / "pdfs" / "p200-pump-maintenance-manual.pdf", root / "manuals")
    (root / "photos").mkdir()
    for name in ("filter-cartridge-label.webp", "pump-room-sign.jpg"):
        shutil.copy2(SAMPLE / "images" / name, root / "photos")
    engine = Engine.open(root, create=True)
    report = engine.index()
    assert report.failed == [], report.failed
    return engine


def test_indexed_manual_beats_the_photographed_label(manual_engine) -> None:
    answer = ask(manual_engine, FILTER_Q)
    assert answer.answered
    first = answer.sentences[0]
    span = first.spans[0]
    assert span.source == "manuals/p200-pump-maintenance-manual.pdf"
    assert "every 500 operating hours" in first.text
    # The sentence's own characters on its page, read back from the page text.
    cited = {e.id: e for e in answer.evidence}[first.citations[0]]
    assert (
        " ".join(cited.text[span.locator.char_start : span.locator.char_end].split()) == first.text
    )


def test_what_only_ocr_holds_is_quoted_from_the_image(manual_engine) -> None:
    answer = ask(manual_engine, "What is the part number of the FC-40 filter cartridge?")
    assert answer.answered
    span = answer.sentences[0].spans[0]
    assert span.source == "photos/filter-cartridge-label.webp"
    assert "4471-FC40" in span.text and span.locator.char_start is not None
