"""Hard pages for the PDF loader: rotated, scanned, huge tables, broken layout, many pages.

Each must be indexed or reported (IngestError), never crash the run.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from PIL import ImageStat

from polyseek.errors import IngestError
from polyseek.ingest import IngestOptions, PdfLoader, page_progress
from polyseek.types import Item
from tests.helpers.pdf_pages import (
    A4,
    big_table_pdf,
    image_only_pdf,
    layout_pdf,
    many_pages_pdf,
    rotated_pdf,
)

REPO = Path(__file__).resolve().parents[3]
NO_OCR = IngestOptions(ocr=False)


def load(
    tmp_path: Path, data: bytes, options: IngestOptions = NO_OCR, name: str = "doc.pdf"
) -> list[Item]:
    path = tmp_path / name
    path.write_bytes(data)
    return PdfLoader(options).load(path, name)


def page_items(items: list[Item]) -> list[Item]:
    return [item for item in items if item.locator.region is None]


def box_ink(page: Item, box: tuple[float, float, float, float]) -> int:
    """Darkest grey level of the page preview under ``box`` (points): 255 is blank."""
    assert page.image is not None
    scale = page.image.width / page.metadata["width"]
    crop = page.image.crop(tuple(round(v * scale) for v in box)).convert("L")
    return int(ImageStat.Stat(crop).extrema[0][0])


# --- rotated pages ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upright(tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    return load(tmp_path_factory.mktemp("upright"), layout_pdf(1))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_page_reads_like_the_upright_one(
    tmp_path: Path, upright: list[Item], rotation: int
) -> None:
    items = load(tmp_path, rotated_pdf(rotation))
    assert items[0].metadata["rotation"] == rotation
    assert [i.text for i in items] == [i.text for i in upright]
    assert [i.locator.region for i in items] == [i.locator.region for i in upright]
    assert items[0].image is not None and upright[0].image is not None
    assert items[0].image.size == upright[0].image.size
    # Boxes are in the space of the page as displayed, like the upright page's.
    for got, want in zip(items, upright, strict=True):
        if want.locator.bbox is not None:
            assert got.locator.bbox is not None
            assert all(
                abs(a - b) < 0.5 for a, b in zip(got.locator.bbox, want.locator.bbox, strict=True)
            )
        for p, q in zip(got.passages, want.passages, strict=True):
            assert (p.char_start, p.char_end) == (q.char_start, q.char_end)
            assert p.bbox is not None and q.bbox is not None
            assert all(abs(a - b) < 0.5 for a, b in zip(p.bbox, q.bbox, strict=True))


def test_sideways_text_on_a_rotated_page_is_boxed_where_it_is_drawn(tmp_path: Path) -> None:
    doc = pymupdf.open(stream=layout_pdf(1))
    doc[0].set_rotation(90)  # the text now runs down the displayed page
    items = load(tmp_path, doc.tobytes())
    page = items[0]
    assert (page.metadata["width"], page.metadata["height"]) == (A4[1], A4[0])
    assert page.image is not None and page.image.width > page.image.height
    assert "Opening the pump housing" in page.text
    for item in items:
        boxes = [item.locator.bbox] + [p.bbox for p in item.passages]
        for box in boxes:
            if box is not None:
                assert 0 <= box[0] < box[2] <= A4[1] + 1 and 0 <= box[1] < box[3] <= A4[0] + 1
                assert box_ink(page, box) < 128  # there is ink under the box


# --- scanned (image-only) pages ---------------------------------------------------------

SCANS = [
    ["Scanned page one about the impeller.", "The housing bolts need 25 Nm."],
    ["Second scanned page on valves.", "Drain the volute casing first."],
    ["Third page: replace the O-ring seal."],
]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scans") / "scans.pdf"
    path.write_bytes(image_only_pdf(SCANS))
    return path


def test_image_only_pages_are_ocrd_in_order_with_word_boxes(scans: Path) -> None:
    items = PdfLoader(IngestOptions(ocr_workers=2)).load(scans, "scans.pdf")
    pages = page_items(items)
    assert [p.locator.page for p in pages] == [1, 2, 3]
    for page, lines in zip(pages, SCANS, strict=True):
        assert page.metadata["ocr"] is True and page.metadata["ocr_dpi"] == 200
        assert page.image is not None and page.image.size == (724, 1024)
        for word in " ".join(lines).replace(".", "").split():
            assert word.lower() in page.text.lower(), word
        (passage,) = page.passages
        # The text was drawn from (160, 200) px at 200 dpi: (57.6, 72) points.
        assert passage.bbox is not None
        assert abs(passage.bbox[0] - 57.6) < 4 and abs(passage.bbox[1] - 72) < 6
        assert box_ink(page, passage.bbox) < 100


def test_ocr_in_process_gives_the_same_items(scans: Path) -> None:
    pooled = PdfLoader(IngestOptions(ocr_workers=2)).load(scans, "s")
    local = PdfLoader(IngestOptions(ocr_workers=0)).load(scans, "s")
    assert [(i.locator, i.text, i.passages) for i in pooled] == [
        (i.locator, i.text, i.passages) for i in local
    ]


def test_a_scanned_page_is_rendered_once(scans: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renders: list[int] = []
    original = pymupdf.Page.get_pixmap

    def counting(self: pymupdf.Page, *args: Any, **kwargs: Any) -> pymupdf.Pixmap:
        renders.append(self.number)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pymupdf.Page, "get_pixmap", counting)
    PdfLoader(IngestOptions(pdf_regions=False)).load(scans, "s")
    assert renders == [0, 1, 2]


def test_mixed_scanned_and_text_pages_keep_their_order(tmp_path: Path) -> None:
    scanned = pymupdf.open(stream=image_only_pdf(SCANS[:2]))
    text = pymupdf.open(stream=layout_pdf(2))
    doc = pymupdf.open()
    for src, page in ((scanned, 0), (text, 0), (scanned, 1), (text, 1)):
        doc.insert_pdf(src, from_page=page, to_page=page)
    items = load(tmp_path, doc.tobytes(), IngestOptions(ocr_workers=2))
    pages = page_items(items)
    assert [p.locator.page for p in pages] == [1, 2, 3, 4]
    assert [p.metadata["ocr"] for p in pages] == [True, False, True, False]
    assert [i.locator.page for i in items] == sorted(i.locator.page or 0 for i in items)


def test_a_blank_scanned_page_is_kept_without_text(tmp_path: Path) -> None:
    (page,) = load(tmp_path, image_only_pdf([[]]), IngestOptions())
    assert page.metadata["ocr"] is True and "ocr_error" not in page.metadata
    assert page.text == "" and page.passages == [] and page.image is not None


def test_image_only_page_without_ocr_is_kept_for_image_encoders(scans: Path) -> None:
    items = PdfLoader(IngestOptions(ocr=False)).load(scans, "s")
    assert len(items) == 3
    for page in items:
        assert page.text == "" and page.passages == [] and page.image is not None
        assert page.metadata["ocr"] is False


# --- many pages, progress, limits --------------------------------------------------------


def test_page_progress_hears_every_page(tmp_path: Path) -> None:
    path = tmp_path / "ten.pdf"
    path.write_bytes(many_pages_pdf(10))
    heard: list[tuple[int, int]] = []
    with page_progress(lambda done, total: heard.append((done, total))):
        items = PdfLoader(NO_OCR).iter_load(path, "ten.pdf")
        first = next(items)  # the loader takes the callback when it starts reading
    rest = list(items)  # ... and keeps it outside the with block
    assert first.locator.page == 1 and len(page_items([first, *rest])) == 10
    assert heard == [(n, 10) for n in range(1, 11)]


def test_too_many_pages_is_refused_with_the_option_to_raise(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(many_pages_pdf(30))
    with pytest.raises(
        IngestError, match=r"long\.pdf: PDF has 30 pages, more than the limit of 20"
    ) as info:
        PdfLoader(IngestOptions(pdf_max_pages=20)).load(path, "long.pdf")
    assert info.value.hint is not None and "pdf_max_pages" in info.value.hint
    assert len(page_items(PdfLoader(IngestOptions(pdf_max_pages=30)).load(path, "long.pdf"))) == 30


_STREAM_SCRIPT = """
import json, resource, sys
from pathlib import Path
from typing import Any
from polyseek.ingest import IngestOptions, PdfLoader, page_progress
from tests.helpers.pdf_pages import many_pages_pdf

path = Path(sys.argv[1])
path.write_bytes(many_pages_pdf(int(sys.argv[2])))
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
heard = []
peaks = {}
with page_progress(lambda done, total: heard.append((done, total))):
    for item in PdfLoader(IngestOptions(ocr=False)).iter_load(path, "long.pdf"):
        if item.locator.region is None and item.locator.page in (200, int(sys.argv[2])):
            peaks[item.locator.page] = peak_mb()
        del item
print(json.dumps({"heard": len(heard), "last": heard[-1], "in_order": heard == sorted(heard),
                  "peaks": peaks}))
"""


@pytest.mark.slow
def test_two_thousand_pages_stream_with_flat_memory(tmp_path: Path) -> None:
    """Items are yielded page by page and dropped by the consumer: the loader's peak
    memory after page 2000 is that after page 200 (plus noise), and every page is heard."""
    pages = 2000
    out = subprocess.run(
        [sys.executable, "-c", _STREAM_SCRIPT, str(tmp_path / "long.pdf"), str(pages)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heard"] == pages and result["last"] == [pages, pages] and result["in_order"]
    peaks = {int(k): v for k, v in result["peaks"].items()}
    growth = peaks[pages] - peaks[200]
    assert growth < 40, f"peak RSS grew {growth:.0f} MB from page 200 to page {pages}: {peaks}"


# --- big tables and broken layouts ----------------------------------------------------------


def test_a_table_of_three_thousand_cells_is_read_quickly(tmp_path: Path) -> None:
    data = big_table_pdf(rows=100, cols=30)
    started = time.perf_counter()
    items = load(tmp_path, data)
    elapsed = time.perf_counter() - started
    (table,) = [i for i in items if i.locator.region == "table"]
    lines = table.text.split("\n")
    assert len(lines) == 101  # header row, rule, 99 rows
    assert lines[0].startswith("| 0:0 | 0:1 | 0:2 |") and lines[-1].endswith("| 99:28 | 99:29 |")
    assert table.image is not None and max(table.image.size) <= 1024
    assert elapsed < 10, f"{elapsed:.1f} s for one page"  # ~0.5 s; PyMuPDF's finder: 12 s


def _broken_layout_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_text(
        (-200, 100), "Text starting far left of the page edge and running on", fontsize=12
    )
    page.insert_text((500, 130), "Text running off the right edge of the page here", fontsize=12)
    for dy in (0, 0.5, 1):  # the same words drawn three times over each other
        page.insert_text((72, 200 + dy), "Overprinted words stacked on each other", fontsize=12)
    page.insert_text((72, 240), "Invisible text layer words", fontsize=12, render_mode=3)
    page.insert_text((72, 260), "microscopic", fontsize=0.2)
    shape = page.new_shape()
    shape.draw_rect(pymupdf.Rect(-100, -100, 900, 1000))  # a frame larger than the page
    shape.draw_line((300, 300), (300, 300))  # zero length
    for i in range(3000):  # a hatching of tiny strokes
        x, y = 60 + (i % 60) * 8, 420 + (i // 60) * 6
        shape.draw_line((x, y), (x + 3, y + 3))
    shape.finish(color=(0, 0, 0), width=0.2)
    shape.commit()
    page.insert_text((72, 760), "Figure 9: A hatching of strokes.", fontsize=10)
    doc.new_page(width=A4[0], height=A4[1])  # an empty page
    tiny = doc.new_page(width=3, height=3)  # a page three points wide
    tiny.insert_text((0, 2), "x", fontsize=2)
    data: bytes = doc.tobytes()
    return data


def test_broken_layout_is_indexed_without_crashing(tmp_path: Path) -> None:
    items = load(tmp_path, _broken_layout_pdf())
    pages = page_items(items)
    assert [p.locator.page for p in pages] == [1, 2, 3]
    first = pages[0]
    assert "Overprinted words" in first.text and "Invisible text layer words" in first.text
    for item in items:
        width, height = item.metadata["width"], item.metadata["height"]
        boxes = [item.locator.bbox] + [p.bbox for p in item.passages]
        for box in boxes:
            if box is not None:
                assert all(math.isfinite(v) for v in box)
                assert -1 <= box[0] <= box[2] <= width + 1 and -1 <= box[1] <= box[3] <= height + 1
        json.dumps(item.metadata)
        if item.image is not None:
            assert max(item.image.size) <= 1024
    assert pages[1].text == "" and pages[1].passages == []


def test_unreadable_pages_are_skipped_and_an_unreadable_file_reported(tmp_path: Path) -> None:
    doc = pymupdf.open(stream=layout_pdf(2))
    xref = doc[1].get_contents()[0]
    doc.update_stream(
        xref, b"BT /NoSuchFont 12 Tf (broken) Tj ET q 1 0 0 RG 0 0 m 9999999999 l S Q"
    )
    items = load(tmp_path, doc.tobytes())
    assert page_items(items)[0].locator.page == 1  # page 2 is read or skipped, not fatal
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n")
    with pytest.raises(IngestError, match="garbage.pdf"):
        PdfLoader(NO_OCR).load(path, "garbage.pdf")


def test_items_survive_a_json_round_trip_of_their_metadata(tmp_path: Path) -> None:
    for item in load(tmp_path, layout_pdf(1)):
        assert json.loads(json.dumps(item.metadata)) == item.metadata
        assert all(json.dumps(p.to_dict()) for p in item.passages)
        buf = io.BytesIO()
        if item.image is not None:
            item.image.save(buf, "PNG")
