"""Page-image late-interaction reranking with tiny random ColPali / ColQwen2 models.

The models know nothing, so these tests check what the reranker computes (MaxSim of the
query's tokens against every token of each candidate's page image), not how well it ranks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek import Engine
from polyseek.encoders import load_encoder
from polyseek.encoders.colpali import MAX_VECTORS, ColPaliEncoder
from polyseek.errors import ConfigError, EncoderError
from polyseek.ingest.options import IngestOptions
from polyseek.rerank import RERANKER_BACKENDS, Candidate, load_reranker
from polyseek.rerank.colpali import ColPaliReranker
from tests.helpers.ingest_files import text_pdf
from tests.helpers.tiny_colpali import make_tiny_colpali, make_tiny_colqwen2, page_images

QUERY = "torque of the housing bolts"


@pytest.fixture(scope="module", params=["colpali", "colqwen2"])
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    make = make_tiny_colpali if request.param == "colpali" else make_tiny_colqwen2
    return make(tmp_path_factory.mktemp(f"tiny-{request.param}"))


@pytest.fixture
def pages(tmp_path: Path) -> list[Path]:
    paths = []
    for i, image in enumerate(page_images(4)):
        path = tmp_path / f"page{i}.jpg"
        image.save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def expected_score(encoder: ColPaliEncoder, query: str, path: Path) -> float:
    """MaxSim by hand: query tokens against every (unpooled) token of the page."""
    from PIL import Image

    q = encoder.embed_query_tokens([query])[0]
    with Image.open(path) as image:
        [page] = encoder.embed_image_tokens([image.convert("RGB")], pooled=False)
    assert page.shape[0] > MAX_VECTORS  # the reranker reads every token, not the pooled 64
    return float(sum(max(float(t @ r) for r in page) for t in q))


def test_scores_are_maxsim_over_every_page_token(model_dir: Path, pages: list[Path]) -> None:
    reranker = load_reranker(f"colpali:{model_dir}")
    assert isinstance(reranker, ColPaliReranker)
    assert reranker.name == f"colpali:{model_dir}"
    encoder = load_encoder(f"colpali:{model_dir}")
    assert isinstance(encoder, ColPaliEncoder)
    assert reranker._encoder is encoder  # shares the first stage's loaded weights
    candidates = [Candidate(f"p{i}", "page", "", path) for i, path in enumerate(pages)]
    scores = reranker.score(QUERY, candidates)
    assert scores == pytest.approx([expected_score(encoder, QUERY, p) for p in pages], abs=1e-4)
    assert len(set(scores)) == len(scores)  # distinct pages, distinct scores
    assert reranker.describe() == {
        "reranker": f"colpali:{model_dir}",
        "model_revision": encoder.info.revision,
    }


def test_candidates_without_a_readable_picture_go_last(
    model_dir: Path, pages: list[Path], tmp_path: Path
) -> None:
    reranker = load_reranker(f"colpali:{model_dir}")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    candidates = [
        Candidate("a", "page", "", pages[0]),
        Candidate("text", "text", "a chunk of text"),  # no preview
        Candidate("gone", "page", "", tmp_path / "deleted.jpg"),
        Candidate("broken", "page", "", broken),
        Candidate("b", "page", "", pages[1]),
    ]
    scores = reranker.score(QUERY, candidates)
    assert scores[1] == scores[2] == scores[3] < min(scores[0], scores[4])
    assert scores[3] == pytest.approx(min(scores[0], scores[4]) - 1.0)
    assert reranker.score("", candidates) == [0.0] * 5  # ties: the first-stage order stays
    assert reranker.score(QUERY, candidates[1:4]) == [0.0] * 3


def test_page_cache(model_dir: Path, pages: list[Path]) -> None:
    reranker = ColPaliReranker(str(model_dir))
    candidates = [Candidate(f"p{i}", "page", "", path) for i, path in enumerate(pages)]
    first = reranker.score(QUERY, candidates)
    assert len(reranker._cache) == len(pages)
    assert reranker.score(QUERY, candidates[::-1])[::-1] == first  # served from the cache
    # A page file rewritten (another generation's render): encoded again, new score.
    page_images(5)[4].save(pages[0], "JPEG", quality=90)
    changed = reranker.score(QUERY, candidates)
    assert changed[1:] == first[1:] and changed[0] != first[0]
    uncached = ColPaliReranker(str(model_dir), cache_mb=0)
    assert uncached.score(QUERY, candidates) == pytest.approx(changed, abs=1e-5)
    assert not uncached._cache
    tiny = ColPaliReranker(str(model_dir), cache_mb=0.001)  # room for no page at all
    tiny.score(QUERY, candidates)
    assert tiny._cached_bytes == 0


def test_unavailable_models_and_bad_specs(tmp_path: Path) -> None:
    assert "colpali" in RERANKER_BACKENDS
    with pytest.raises(EncoderError, match="ColPali reranker model .* does not exist"):
        load_reranker(f"colpali:{tmp_path / 'no-such-model'}")
    with pytest.raises(EncoderError, match="not available locally") as info:
        load_reranker("colpali:vidore/colqwen2-v1.0-hf")
    assert "download vidore/colqwen2-v1.0-hf" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="bad reranker spec"):
        load_reranker("colpali:")
    with pytest.raises(ConfigError, match="cache_mb"):
        ColPaliReranker("anything", cache_mb=-1)


def test_reranks_engine_results_by_their_page_renders(model_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "collection"
    root.mkdir()
    (root / "guide.pdf").write_bytes(
        text_pdf(
            [
                "The housing bolts are tightened to a torque of 25 Nm.",
                "Torque the impeller nut of the pump housing to 40 Nm.",
                "Drain the volute casing before opening the housing.",
            ]
        )
    )
    (root / "notes.txt").write_text("Housing bolts: check the torque each year.\n")
    engine = Engine.open(root, create=True)
    engine.index(options=IngestOptions(ocr=False, pdf_regions=False))
    spec = f"colpali:{model_dir}"
    result = engine.search(QUERY, top=4, rerank=spec)
    assert result.query["rerank"] == spec
    assert [h.score for h in result.hits] == [h.signals[spec] for h in result.hits]
    assert [h.modality for h in result.hits] == ["page", "page", "page", "text"]
    encoder = load_encoder(spec)
    assert isinstance(encoder, ColPaliEncoder)
    for hit in result.hits[:3]:  # each page scored on its stored render
        assert hit.preview is not None
        assert hit.score == pytest.approx(
            expected_score(encoder, QUERY, Path(hit.preview)), abs=1e-4
        )
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert np.isfinite(scores).all()
