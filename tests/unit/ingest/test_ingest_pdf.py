"""PdfLoader: pages with a text layer, scanned pages through OCR, and broken PDFs.

Layout regions, passages, streaming and bad layouts: test_ingest_pdf_layout.py,
test_ingest_pdf_pages.py.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymupdf
import pytest

from polyseek.errors import IngestError
from polyseek.ingest import IngestOptions, PdfLoader, load_file
from polyseek.types import Item
from tests.helpers.ingest_files import text_pdf, zero_page_pdf


@pytest.fixture(scope="module")
def manual(sample_dir: Path) -> list[Item]:
    return PdfLoader().load(sample_dir / "pdfs" / "p200-pump-maintenance-manual.pdf", "m.pdf")


@pytest.fixture(scope="module")
def scan(sample_dir: Path) -> list[Item]:
    return PdfLoader().load(sample_dir / "pdfs" / "scanned-retrieval-paper.pdf", "scan.pdf")


def pages(items: list[Item]) -> list[Item]:
    return [item for item in items if item.locator.region is None]


def test_one_page_item_per_page_each_followed_by_its_regions(manual: list[Item]) -> None:
    # Since regions became items, a page item is followed by its region items.
    assert [item.locator.page for item in pages(manual)] == [1, 2, 3]
    assert {item.modality for item in manual} == {"page"}
    assert len({item.id for item in manual}) == len(manual)
    page_numbers = [item.locator.page for item in manual]
    assert page_numbers == sorted(page_numbers)
    for item in manual:
        if item.locator.region is not None:
            assert item.locator.bbox is not None and item.locator.region_index is not None
    for item in manual:
        assert item.source == "m.pdf"
        assert item.metadata["page_count"] == 3
        assert item.metadata["title"] == "P-200 Centrifugal Pump - Maintenance Manual"
        assert item.metadata["author"] == "Polyseek Sample Pumps Ltd."
        assert (item.metadata["width"], item.metadata["height"]) == (595.0, 842.0)
        assert item.metadata["ocr"] is False
        json.dumps(item.metadata)


def test_text_layer(manual: list[Item]) -> None:
    page2, page3 = pages(manual)[1:]
    assert "Tighten the housing bolts to 25 Nm" in page2.text
    assert "Housing bolts\nM8\n25 Nm" in page2.text
    # Ligatures are expanded, so "filter" matches what users type.
    assert "Replacing the intake filter" in page3.text
    assert "\ufb01" not in "".join(item.text for item in manual)


def test_page_images(manual: list[Item]) -> None:
    for item in pages(manual):
        assert item.image is not None and item.image.mode == "RGB"
        assert max(item.image.size) <= 1024
        assert item.image.height > item.image.width  # A4 portrait


def test_scanned_page_is_ocrd(scan: list[Item]) -> None:
    (page,) = pages(scan)
    assert page.metadata["ocr"] is True
    assert page.metadata["page_count"] == 1
    text = page.text.lower()
    for word in ("unified", "interleaved", "retrieval", "documents", "modalities", "reranking"):
        assert word in text, word
    assert page.image is not None


def test_ocr_disabled_leaves_scanned_page_empty(sample_dir: Path) -> None:
    options = IngestOptions(ocr=False)
    (page,) = PdfLoader(options).load(sample_dir / "pdfs" / "scanned-retrieval-paper.pdf", "s")
    assert page.text == ""
    assert page.metadata["ocr"] is False
    assert page.image is not None


def test_owner_password_only_is_readable(tmp_path: Path) -> None:
    doc = pymupdf.open(stream=text_pdf(["restricted but readable"]), filetype="pdf")
    path = tmp_path / "perm.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)
    (item,) = load_file(path)
    assert item.text == "restricted but readable"


def test_encrypted(tmp_path: Path) -> None:
    doc = pymupdf.open(stream=text_pdf(["secret"]), filetype="pdf")
    path = tmp_path / "locked.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    with pytest.raises(IngestError, match=r"locked\.pdf: encrypted PDF: a password is needed"):
        load_file(path)


def test_truncated(tmp_path: Path, sample_dir: Path) -> None:
    data = (sample_dir / "pdfs" / "p200-pump-maintenance-manual.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"half\.pdf: truncated"):
        load_file(path)


def test_truncated_to_its_header(tmp_path: Path) -> None:
    path = tmp_path / "stub.pdf"
    path.write_bytes(text_pdf(["x"])[:200])
    with pytest.raises(IngestError, match=r"stub\.pdf: truncated or corrupt PDF"):
        load_file(path)


def test_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "noise.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\n%%EOF\n")
    with pytest.raises(IngestError, match=r"noise\.pdf: corrupt PDF: cannot be opened"):
        load_file(path)


def test_zero_pages(tmp_path: Path) -> None:
    path = tmp_path / "nothing.pdf"
    path.write_bytes(zero_page_pdf())
    with pytest.raises(IngestError, match=r"nothing\.pdf: PDF has no pages"):
        load_file(path)


def test_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.pdf: empty file"):
        load_file(path)
    with pytest.raises(IngestError, match=r"empty\.pdf: empty file"):
        PdfLoader().load(path, "empty.pdf")


def test_huge_page_is_rendered_small(tmp_path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page(width=14400, height=14400).insert_text((72, 720), "poster", fontsize=400)
    path = tmp_path / "poster.pdf"
    doc.save(path)
    (item,) = PdfLoader().load(path, "poster.pdf")
    assert item.image is not None and max(item.image.size) <= 1024
    assert "poster" in item.text


def test_damaged_but_complete_pdf_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = text_pdf(["first page text", "second page text"])
    head, _, tail = data.rpartition(b"startxref")
    path = tmp_path / "badxref.pdf"
    path.write_bytes(head + b"startxref\n999999\n%%EOF\n")  # the xref offset points nowhere
    items = load_file(path)
    assert [item.text for item in items] == ["first page text", "second page text"]
    assert all(item.metadata["repaired"] is True for item in items)
    assert "repaired" in caplog.text


def test_threads_share_mupdf_safely(sample_dir: Path) -> None:
    paths = [
        sample_dir / "pdfs" / "p200-pump-maintenance-manual.pdf",
        sample_dir / "pdfs" / "reading-notes-contrastive-learning.pdf",
    ] * 6
    loader = PdfLoader(IngestOptions(ocr=False))
    expected = {p: [i.text for i in loader.load(p, p.name)] for p in set(paths)}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: loader.load(p, p.name), paths))
    for path, items in zip(paths, results, strict=True):
        assert [i.text for i in items] == expected[path]
