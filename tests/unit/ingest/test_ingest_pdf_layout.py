"""PDF pages as passages and layout regions: sections, lists, tables, figures, furniture."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest

from polyseek.ingest import IngestOptions, PdfLoader
from polyseek.ingest.passages import estimate_word_pieces
from polyseek.types import Item, Locator
from tests.helpers.pdf_pages import (
    BULLETS,
    FIGURE_CAPTION,
    FIGURE_LABEL,
    HEADER,
    TABLE,
    TABLE_CAPTION,
    dense_pdf,
    layout_pdf,
    sections_pdf,
)


def load(tmp_path: Path, data: bytes, options: IngestOptions | None = None) -> list[Item]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return PdfLoader(options or IngestOptions(ocr=False)).load(path, "doc.pdf")


@pytest.fixture(scope="module")
def guide(tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    return load(tmp_path_factory.mktemp("guide"), layout_pdf(3))


def by_page(items: list[Item]) -> dict[int, tuple[Item, list[Item]]]:
    out: dict[int, tuple[Item, list[Item]]] = {}
    for item in items:
        assert item.locator.page is not None
        if item.locator.region is None:
            out[item.locator.page] = (item, [])
        else:
            out[item.locator.page][1].append(item)  # regions come right after their page
    return out


def inside(
    box: tuple[float, float, float, float], outer: tuple[float, ...], pad: float = 1
) -> bool:
    return (
        box[0] >= outer[0] - pad
        and box[1] >= outer[1] - pad
        and box[2] <= outer[2] + pad
        and box[3] <= outer[3] + pad
    )


def test_each_page_is_followed_by_its_regions(guide: list[Item]) -> None:
    pages = by_page(guide)
    assert list(pages) == [1, 2, 3]
    kinds = [[r.locator.region for r in regions] for _, regions in pages.values()]
    assert kinds[0] == ["text", "list", "table", "figure"]
    assert kinds[2] == ["text", "list", "table", "figure", "figure"]  # + the photo
    for page, regions in pages.values():
        assert page.metadata["regions"] == len(regions)
        numbers: dict[str, list[int]] = {}
        for region in regions:
            assert region.modality == "page" and region.source == "doc.pdf"
            assert region.metadata["region"] == region.locator.region
            assert region.metadata["width"] == 595.0 and region.metadata["height"] == 842.0
            assert region.locator.bbox is not None and inside(region.locator.bbox, (0, 0, 595, 842))
            assert region.locator.region is not None and region.locator.region_index is not None
            numbers.setdefault(region.locator.region, []).append(region.locator.region_index)
        assert all(v == list(range(1, len(v) + 1)) for v in numbers.values())
    assert str(pages[3][1][4].locator).startswith("page 3 · figure 2")
    assert len({item.id for item in guide}) == len(guide)


def test_text_regions_are_spans_of_the_page_text(guide: list[Item]) -> None:
    page, regions = by_page(guide)[1]
    text, listing = regions[0], regions[1]
    assert text.metadata["heading"] == "1. Opening the pump housing"
    assert text.text.startswith("1. Opening the pump housing\nThe pump housing is held")
    assert listing.text.count("\n") == len(BULLETS) - 1
    for region in (text, listing):
        a, b = region.metadata["page_chars"]
        assert page.text[a:b] == region.text
        # The region's vectors are the page's passages over the same span.
        assert any(p.char_start == a and p.char_end == b for p in page.passages)


def shared_vectors_hold(page: Item, region: Item) -> bool:
    """The contract for indexers: a text region's passages are its page's passages over
    its span (shifted), or the one page passage that is its whole span."""
    a, b = region.metadata["page_chars"]
    within = [
        (p.char_start - a, p.char_end - a, p.bbox) for p in page.passages if a <= p.char_start < b
    ]
    if region.passages:
        return within == [(p.char_start, p.char_end, p.bbox) for p in region.passages]
    return [(s, e) for s, e, _ in within] == [(0, b - a)]


def test_text_regions_share_their_pages_passages(tmp_path: Path, guide: list[Item]) -> None:
    sections = load(tmp_path, sections_pdf())
    long_regions = [r for r in sections if r.locator.region and len(r.passages) > 1]
    assert len(long_regions) == 3
    checked = 0
    for items in (guide, sections):
        for page, regions in by_page(items).values():
            for region in regions:
                if "page_chars" in region.metadata:
                    assert shared_vectors_hold(page, region), region.locator
                    checked += 1
    assert checked >= 8


def test_table_is_markdown_with_its_caption_and_crop(guide: list[Item]) -> None:
    table = by_page(guide)[2][1][2]
    assert table.locator.region == "table"
    lines = table.text.split("\n")
    assert lines[0] == TABLE_CAPTION
    assert lines[1] == "| " + " | ".join(TABLE[0]) + " |"
    assert lines[2] == "| --- | --- | --- |"
    assert lines[3:] == ["| " + " | ".join(row) + " |" for row in TABLE[1:]]
    assert table.metadata["caption"] == TABLE_CAPTION
    assert (table.metadata["rows"], table.metadata["cols"]) == (4, 3)
    assert "page_chars" not in table.metadata
    assert table.image is not None and table.image.mode == "RGB"
    assert max(table.image.size) <= 1024
    x0, y0, x1, y1 = table.locator.bbox or (0, 0, 0, 0)
    # The crop is the box at pdf_crop_dpi (144): twice its size in points.
    assert abs(table.image.width - 2 * (x1 - x0)) <= 2
    assert abs(table.image.height - 2 * (y1 - y0)) <= 2


def test_figure_has_caption_inner_text_and_crop(guide: list[Item]) -> None:
    figure = by_page(guide)[1][1][3]
    assert figure.locator.region == "figure"
    assert figure.metadata["caption"] == FIGURE_CAPTION
    assert figure.text == f"{FIGURE_CAPTION}\n{FIGURE_LABEL}"
    assert figure.image is not None and figure.image.width > figure.image.height
    assert inside((100, 400, 400, 600), figure.locator.bbox or (0, 0, 0, 0))
    photo = by_page(guide)[3][1][4]
    assert photo.text == "" and photo.image is not None
    assert inside(photo.locator.bbox or (0, 0, 0, 0), (330, 650, 510, 770))


def test_running_header_and_page_numbers_belong_to_no_region(guide: list[Item]) -> None:
    for page, regions in by_page(guide).values():
        assert HEADER in page.text  # the page text keeps everything
        for region in regions:
            assert HEADER not in region.text and "of 3" not in region.text
        for p in page.passages:
            assert HEADER not in page.text[p.char_start : p.char_end]


def test_passage_boxes_enclose_their_text(guide: list[Item]) -> None:
    page, _ = by_page(guide)[1]
    assert page.passages
    for p in page.passages:
        assert 0 <= p.char_start < p.char_end <= len(page.text)
        assert p.bbox is not None and inside(p.bbox, (0, 0, 595, 842))
    first = page.passages[0]
    assert page.text[first.char_start :].startswith("1. Opening the pump housing")
    assert first.bbox is not None and first.bbox[1] < 90 < first.bbox[3]  # the heading's line


def test_dense_page_gets_passages_within_the_encoder_window(tmp_path: Path) -> None:
    options = IngestOptions(ocr=False, pdf_regions=False)
    (page,) = load(tmp_path, dense_pdf(1, sentences=60), options)
    assert len(page.text) > 4000
    assert len(page.passages) >= 5
    covered: set[int] = set()
    for p in page.passages:
        piece = page.text[p.char_start : p.char_end]
        assert len(piece) <= options.passage_chars
        assert estimate_word_pieces(piece) <= options.passage_tokens
        assert piece == piece.strip()
        covered.update(range(p.char_start, p.char_end))
    assert all(i in covered for i, ch in enumerate(page.text) if not ch.isspace())
    # Consecutive passages overlap, and boxes move down the page.
    assert all(
        a.char_end > b.char_start for a, b in zip(page.passages, page.passages[1:], strict=False)
    )
    tops = [p.bbox[1] for p in page.passages if p.bbox is not None]
    assert tops == sorted(tops)
    # Each passage's box holds the boxes PyMuPDF gives the words of its span: the page
    # text is those words in order, so the k-th word of the text is the k-th word box.
    words = pymupdf.open(stream=dense_pdf(1, sentences=60))[0].get_text("words")
    starts = [m.start() for m in re.finditer(r"\S+", page.text)]
    assert len(starts) == len(words)
    for p in page.passages:
        assert p.bbox is not None
        for start, w in zip(starts, words, strict=True):
            if p.char_start <= start < p.char_end:
                assert inside(w[:4], p.bbox, pad=0.01)


def test_passages_can_be_turned_off(tmp_path: Path) -> None:
    items = load(tmp_path, layout_pdf(1), IngestOptions(ocr=False, pdf_passages=False))
    assert all(not item.passages for item in items)
    assert len(items) > 1  # regions are still there


def test_regions_can_be_turned_off(tmp_path: Path) -> None:
    items = load(tmp_path, layout_pdf(2), IngestOptions(ocr=False, pdf_regions=False))
    assert [item.locator for item in items] == [Locator(page=1), Locator(page=2)]
    assert "regions" not in items[0].metadata
    assert items[0].passages


def test_long_table_region_gets_row_passages(tmp_path: Path) -> None:
    from tests.helpers.pdf_pages import big_table_pdf

    items = load(tmp_path, big_table_pdf(rows=40, cols=6))
    (table,) = [i for i in items if i.locator.region == "table"]
    assert table.metadata["rows"] == 40 and table.metadata["cols"] == 6
    assert len(table.passages) > 1
    for p in table.passages:
        rows = table.text[p.char_start : p.char_end].split("\n")
        assert all(re.fullmatch(r"\|.*\|", row) for row in rows)
        assert p.bbox is not None


def test_one_text_region_is_not_repeated_as_an_item(tmp_path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 100), "A single short line.", fontsize=12)
    (item,) = load(tmp_path, doc.tobytes())
    assert item.text == "A single short line."
    assert item.metadata["regions"] == 0


def test_the_layout_model_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PyMuPDF 2.0's find_tables() runs its ONNX layout model unless told not to (~300 ms a
    # page): the loader must not pay for it.
    calls: list[object] = []
    original = pymupdf._get_layout

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs) if original else None

    monkeypatch.setattr(pymupdf, "_get_layout", counting)
    items = load(tmp_path, layout_pdf(2))
    assert any(item.locator.region == "table" for item in items)
    assert calls == []
