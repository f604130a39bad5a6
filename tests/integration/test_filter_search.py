"""Filters, phrases and explained scores through the Python API and the CLI, on the mixed
served collection (papers, images, PDF pages and regions, a video, an audio item;
MiniLM + a tiny CLIP)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from polyseek.engine import Engine
from polyseek.errors import QueryError
from polyseek.types import Hit
from tests.helpers.cli import cli
from tests.helpers.served import shared_collection

NO_TEXT_IMAGE = "images/colour-gradient-shapes.png"  # a picture without any visible text


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_collection(tmp_path_factory)


@pytest.fixture(scope="module")
def engine(root: Path) -> Engine:
    return Engine.open(root)


def sums_to_score(h: Hit) -> bool:
    return abs(sum(h.contributions.values()) - h.score) < 1e-6


def test_a_filter_applies_before_ranking_so_top_stays_full(engine: Engine) -> None:
    """The web UI's old source filter dropped hits after ranking; in the store, 5 come
    back whenever 5 items match."""
    query = "contrastive learning of image and text"
    plain = engine.search(query, top=5)
    assert sum(h.source.startswith("pdfs/") for h in plain.hits) < 5  # post-filtering: short
    filtered = engine.search(query, top=5, where="source GLOB 'pdfs/*'")
    assert len(filtered.hits) == 5
    assert all(h.source.startswith("pdfs/") for h in filtered.hits)
    assert filtered.query["where"] == "source GLOB 'pdfs/*'"


@pytest.mark.parametrize(
    ("where", "check"),
    [
        ("modality = 'image' AND width >= 100", lambda h: h.modality == "image"),
        ("ext IN ('md') AND size < 100KB", lambda h: h.source.endswith(".md")),
        ("pages >= 1 AND page = 1", lambda h: h.locator.page == 1),
        ("meta.format = 'markdown'", lambda h: h.metadata.get("format") == "markdown"),
        ("NOT modality IN ('text', 'page')", lambda h: h.modality not in ("text", "page")),
        ("start >= 0", lambda h: h.locator.start_s is not None),
    ],
)
def test_every_hit_matches_the_filter(engine: Engine, where: str, check) -> None:  # noqa: ANN001
    hits = engine.search("pump filter cartridge", top=10, where=where).hits
    assert hits
    assert all(check(h) for h in hits), [(h.source, h.modality) for h in hits]


def test_a_filter_nothing_matches_returns_no_hits(engine: Engine) -> None:
    assert engine.search("pump", where="size > 1TB").hits == []


def test_bad_filters_are_refused_naming_the_field(engine: Engine) -> None:
    with pytest.raises(QueryError, match="unknown field 'moddality'") as err:
        engine.search("pump", where="moddality = 'image'")
    assert "modality" in (err.value.hint or "")


def test_a_quoted_phrase_must_match_as_a_phrase(engine: Engine) -> None:
    hits = engine.search('"volute casing" bolts', top=10).hits
    assert hits
    phrase = re.compile(r"\bvolute\W+casing\b", re.IGNORECASE)
    stored = engine.items([h.item_id for h in hits])
    assert all(phrase.search(stored[h.item_id].text) for h in hits)
    # the same words in another order are not the phrase
    assert engine.search('"casing volute"', top=10).hits == []


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"fusion": "rrf"},
        {"calibrate": True},
        {"calibrate": False, "lexical": False},
        pytest.param({"rerank": "late:minilm", "rerank_weight": 0.5}, marks=pytest.mark.slow),
        pytest.param({"rerank": "late:minilm"}, marks=pytest.mark.slow),
        {"where": "modality IN ('image', 'page')"},
    ],
)
def test_every_hit_explains_its_score(engine: Engine, options: dict) -> None:
    hits = engine.search("pump housing bolts", top=8, **options).hits
    assert hits
    for h in hits:
        assert h.contributions, h
        assert sums_to_score(h), (h.score, h.contributions)
    if options.get("calibrate"):
        assert any("calibration" in h.contributions for h in hits)
    if "rerank" in options:
        assert all("late:minilm" in h.contributions for h in hits)


def test_an_item_lacking_a_modality_is_ranked_on_what_it_has(engine: Engine) -> None:
    """A photo with no visible text has no BM25 score and no text-encoder vector: its score
    is its picture's part alone, with no penalty standing in for the missing signals."""
    hits = engine.search("colour gradient shapes", top=10, modality="image").hits
    photo = next(h for h in hits if h.source == NO_TEXT_IMAGE)
    assert set(photo.contributions) == {next(iter(photo.contributions))}
    (name,) = photo.contributions
    assert name.startswith("clip:")
    assert sums_to_score(photo)
    # items with text carry their text signals beside the picture's
    texty = [h for h in hits if h.source != NO_TEXT_IMAGE]
    assert any({"lexical", "minilm"} & set(h.contributions) for h in texty)


def test_cli_where_and_explain(root: Path) -> None:
    code, out, _ = cli(
        "search", "pump", "-c", str(root), "--no-server", "--where", "modality = 'image'",
        "--explain", "-k", "3",
    )  # fmt: skip
    assert code == 0, out
    assert len(re.findall(r"^ *\d+\. -?\d+\.\d+ image ", out, re.MULTILINE)) == 3
    assert re.search(r"= -?\d+\.\d{4}: ", out)  # the explanation line: parts and their sum
    code, out, _ = cli(
        "search", "pump", "-c", str(root), "--no-server", "--where", "source GLOB 'pdfs/*'",
        "--json", "-k", "4",
    )  # fmt: skip
    data = json.loads(out)
    assert len(data["hits"]) == 4
    for h in data["hits"]:
        assert h["source"].startswith("pdfs/")
        assert abs(sum(h["contributions"].values()) - h["score"]) < 1e-6


def test_cli_bad_filter_is_a_clear_error(root: Path) -> None:
    code, _, err = cli("search", "pump", "-c", str(root), "--no-server", "--where", "width >")
    assert code == 2
    assert "expected a value for width" in err and "end of expression" in err


def test_a_filtered_view_reuses_the_whole_views_hubness(engine: Engine) -> None:
    from polyseek.search.calibration import hubness
    from polyseek.search.filtered import FilteredStore, restrict

    view = restrict(engine.store, "modality IN ('image', 'page')")
    assert isinstance(view, FilteredStore)
    for info in engine.encoder_infos:
        whole, part = hubness(engine.store, info.key), hubness(view, info.key)
        if whole is None:
            continue
        rows = view.base_rows(info.key)
        assert np.array_equal(part.r, whole.r[rows])
        assert set(view.vectors(info.key).ids) <= view.allowed
