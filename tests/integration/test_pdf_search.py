"""Searching inside PDF pages: passages, layout regions rolled up under their page."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import numpy as np
import pytest

from polyseek import Engine
from polyseek.encoders import load_encoder
from polyseek.encoders.base import Encoder
from polyseek.encoders.items import embed_items
from polyseek.ingest import load_file
from tests.conftest import SAMPLE

MANUAL = "p200-pump-maintenance-manual.pdf"


@pytest.fixture(scope="module")
def pdf_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("pdfs") / "collection"
    shutil.copytree(SAMPLE / "pdfs", root)
    engine = Engine.open(root, create=True)
    assert engine.index().ok
    return engine


def test_a_hit_points_at_the_passage_or_region_that_matched(pdf_engine: Engine) -> None:
    hits = pdf_engine.search("tighten the housing bolts to 25 Nm in a star pattern", top=3).hits
    top = hits[0]
    assert (top.source, top.locator.page) == (MANUAL, 2)
    assert "25 Nm" in top.snippet
    assert top.locator.bbox is not None  # where on the page: the passage's or region's box
    assert "page 2" in str(top.locator)


def test_regions_roll_up_under_their_page_unless_asked(pdf_engine: Engine) -> None:
    query = "pump housing bolts torque"
    by_page = pdf_engine.search(query, top=10).hits
    pages = [(h.source, h.locator.page) for h in by_page if h.modality == "page"]
    assert len(pages) == len(set(pages))  # one result per page
    by_region = pdf_engine.search(query, top=10, grain="region").hits
    regions = [(h.source, h.locator.page) for h in by_region if h.modality == "page"]
    assert len(regions) > len(set(regions))  # a page's regions are results of their own
    table = next(h for h in by_region if h.locator.region == "table")
    assert str(table.locator).startswith(f"page {table.locator.page} · table")


class CountingEncoder(Encoder):
    """The real MiniLM, counting the texts it is given (to see what is embedded twice)."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.info = inner.info
        self.texts = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed_documents(texts)


def test_text_regions_reuse_their_page_passages_vectors() -> None:
    items = load_file(SAMPLE / "pdfs" / MANUAL, MANUAL)
    enc = CountingEncoder(load_encoder("minilm"))
    ids, vectors = embed_items(enc, items)
    shared = [
        it for it in items if it.locator.region in ("text", "list") and "page_chars" in it.metadata
    ]
    assert shared
    assert len(ids) == len(vectors) > enc.texts  # rows reused, not embedded again
    rows = {i: vectors[[n for n, x in enumerate(ids) if x == i]] for i in set(ids)}
    by_id = {it.id: it for it in items}
    for region in shared:
        page = next(
            it
            for it in items
            if it.locator.page == region.locator.page and it.locator.region is None
        )
        a = region.metadata["page_chars"][0]
        spans = [(p.char_start, p.char_end) for p in page.passages]
        own = [(p.char_start + a, p.char_end + a) for p in region.passages] or [
            (a, a + len(region.text))
        ]
        for k, span in enumerate(own):
            if span in spans:
                np.testing.assert_allclose(rows[region.id][k], rows[page.id][spans.index(span)])
        assert by_id[region.id].text
