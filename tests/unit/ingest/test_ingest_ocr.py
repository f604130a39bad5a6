"""The OCR wrapper: tessdata lookup, install hints, one engine per thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from polyseek.errors import ConfigError, MissingDependencyError
from polyseek.ingest import ocr
from polyseek.ingest.ocr import OcrEngine, clean_ocr_text, find_tessdata, ocr_available, ocr_image


def text_image(text: str) -> Image.Image:
    img = Image.new("L", (900, 120), 255)
    ImageDraw.Draw(img).text((20, 30), text, font=ImageFont.load_default(size=40), fill=0)
    return img


def test_thread_limit_is_set() -> None:
    assert os.environ.get("OMP_THREAD_LIMIT")


def test_available() -> None:
    assert ocr_available()
    assert not ocr_available("xx-no-such-language")


def test_ocr_image() -> None:
    assert "housing bolts" in ocr_image(text_image("Tighten the housing bolts")).lower()


def test_read_gives_line_confidences_over_the_text() -> None:
    img = Image.new("L", (900, 260), 255)
    draw = ImageDraw.Draw(img)
    draw.text((20, 30), "Tighten the housing bolts", font=ImageFont.load_default(size=40), fill=0)
    draw.text((20, 150), "Replace the intake filter", font=ImageFont.load_default(size=40), fill=0)
    read = OcrEngine().read(img)
    assert "housing bolts" in read.text.lower() and "intake filter" in read.text.lower()
    assert len(read.lines) == 2 and 0 < read.confidence <= 100
    for start, end, conf in read.lines:
        assert read.text[start:end].strip() and 0 <= conf <= 100
    meta = read.metadata()
    assert meta["ocr_lines"][0][:2] == list(read.lines[0][:2])


@pytest.mark.parametrize("colour", ["red", "white", "black"])
def test_a_picture_without_text_reads_as_no_text(colour: str) -> None:
    # tesserocr raises "No text returned" when asked for the lines of an empty page
    read = OcrEngine().read(Image.new("RGB", (64, 64), colour))
    assert read.text == "" and read.lines == []


def test_tessdata_prefix_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = find_tessdata()
    (tmp_path / "eng.traineddata").symlink_to(system / "eng.traineddata")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert find_tessdata() == tmp_path


def test_tessdata_prefix_without_the_language_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert find_tessdata() != tmp_path


def test_missing_language_has_an_install_hint() -> None:
    with pytest.raises(MissingDependencyError, match="apt-get install tesseract-ocr") as info:
        find_tessdata("xx-no-such-language")
    assert isinstance(info.value, ConfigError)
    assert "xx-no-such-language" in info.value.message


def test_one_engine_per_thread() -> None:
    engine = OcrEngine()
    image = text_image("Replace the intake filter")
    results: dict[str, tuple[object, str]] = {}

    def work() -> None:
        api = engine._api()
        results[threading.current_thread().name] = (api, engine.ocr(image))

    threads = [threading.Thread(target=work, name=f"ocr-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    main_api = engine._api()
    assert engine._api() is main_api  # reused within a thread
    apis = [api for api, _ in results.values()]
    assert len(apis) == 2 and apis[0] is not apis[1]
    assert all(api is not main_api for api in apis)
    assert all("intake filter" in text.lower() for _, text in results.values())
    engine.close()


def test_shared_engine_is_cached() -> None:
    assert ocr.get_ocr_engine("eng") is ocr.get_ocr_engine("eng")


def test_clean_ocr_text() -> None:
    raw = "  Pump   housing \n\n\n\nexploded\tview  \f\n"
    assert clean_ocr_text(raw) == "Pump housing\n\nexploded view"


def test_fit_for_ocr() -> None:
    small = Image.new("L", (200, 100))
    assert ocr.fit_for_ocr(small, 1000, 2400).size == (600, 300)  # at most 3x
    big = Image.new("L", (4800, 1200))
    assert ocr.fit_for_ocr(big, 1000, 2400).size == (2400, 600)
    mid = Image.new("L", (1200, 900))
    assert ocr.fit_for_ocr(mid, 1000, 2400) is mid
