"""ColPali / ColQwen2 late-interaction encoders: tiny random models of both architectures,
saved with save_pretrained and loaded back through ``load_encoder("colpali:...")``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import LateInteractionEncoder, load_encoder
from polyseek.encoders.colpali import MAX_VECTORS, ColPaliEncoder, cluster_tokens
from polyseek.errors import ConfigError, EncoderError, QueryError
from tests.helpers.tiny_colpali import (
    TINY_COLPALI_DIM,
    make_tiny_colpali,
    make_tiny_colqwen2,
    page_images,
)
from tests.helpers.tiny_models import fake_hub_cache, make_tiny_clip

QUERIES = ["torque of the housing bolts", "x", "exploded view of the pump", ""]
ARCHITECTURES = {"colpali": make_tiny_colpali, "colqwen2": make_tiny_colqwen2}


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        name: make(tmp_path_factory.mktemp(f"tiny-{name}")) for name, make in ARCHITECTURES.items()
    }


@pytest.fixture(params=sorted(ARCHITECTURES))
def tiny(request: pytest.FixtureRequest, model_dirs: dict[str, Path]) -> ColPaliEncoder:
    encoder = load_encoder(f"colpali:{model_dirs[request.param]}")
    assert isinstance(encoder, ColPaliEncoder)
    assert encoder.model_type == request.param  # from the checkpoint's config, not its name
    return encoder


def _unit_rows(m: np.ndarray) -> bool:
    return m.dtype == np.float32 and np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)


def test_info(tiny: ColPaliEncoder) -> None:
    info = tiny.info
    assert isinstance(tiny, LateInteractionEncoder)
    assert (info.kind, info.dim, info.metric) == ("late-interaction", TINY_COLPALI_DIM, "maxsim")
    assert info.revision.startswith("sha1:") and info.revision.endswith(f"+cluster{MAX_VECTORS}")
    assert tiny.max_vectors == MAX_VECTORS


def test_page_tokens_are_pooled_to_at_most_64_vectors(tiny: ColPaliEncoder) -> None:
    pages = page_images(3)
    full = tiny.embed_image_tokens(pages, pooled=False)
    pooled = tiny.embed_image_tokens(pages)
    assert len(full) == len(pooled) == 3
    for f, p in zip(full, pooled, strict=True):
        assert f.shape[0] > MAX_VECTORS  # 256 (ColPali) or 192 (ColQwen2) patches + prompt
        assert p.shape == (MAX_VECTORS, TINY_COLPALI_DIM)
        assert _unit_rows(f) and _unit_rows(p)
    # Distinct pages, distinct vectors; the same page twice, the same vectors.
    assert not np.allclose(pooled[0], pooled[1])
    again = tiny.embed_image_tokens([pages[0], pages[0]])
    np.testing.assert_allclose(again[0], pooled[0], atol=1e-5)
    np.testing.assert_allclose(again[1], pooled[0], atol=1e-5)


def test_image_tokens_match_the_model_output(tiny: ColPaliEncoder) -> None:
    """Unpooled tokens are the model's own embeddings at the attended positions."""
    import torch

    page = page_images(1)[0]
    inputs = tiny._processor.process_images([page])
    with torch.inference_mode():
        expected = tiny._model(**{k: v for k, v in inputs.items() if k != "labels"}).embeddings
    [got] = tiny.embed_image_tokens([page], pooled=False)
    np.testing.assert_allclose(got, expected[0].numpy(), atol=1e-5)


def test_query_tokens(tiny: ColPaliEncoder) -> None:
    import torch

    tokens = tiny.embed_query_tokens(QUERIES)
    assert len(tokens) == len(QUERIES)
    assert all(_unit_rows(t) and t.shape[1] == TINY_COLPALI_DIM for t in tokens)
    # Longer text, more tokens; prefix and query-augmentation tokens are always there.
    assert tokens[0].shape[0] > tokens[1].shape[0] > 10
    # In a batch (padded, sorted by length) as one at a time: the attended tokens only.
    for text, batched in zip(QUERIES, tokens, strict=True):
        [alone] = tiny.embed_query_tokens([text])
        np.testing.assert_allclose(batched, alone, atol=1e-4)
    inputs = tiny._processor.process_queries([QUERIES[0]])
    with torch.inference_mode():
        expected = tiny._model(**inputs).embeddings[0].numpy()
    np.testing.assert_allclose(tokens[0], expected, atol=1e-5)


def test_one_vector_methods_are_token_means(tiny: ColPaliEncoder) -> None:
    queries = tiny.embed_queries(QUERIES[:2])
    tokens = tiny.embed_query_tokens(QUERIES[:2])
    assert queries.shape == (2, TINY_COLPALI_DIM) and _unit_rows(queries)
    mean = tokens[0].mean(axis=0)
    np.testing.assert_allclose(queries[0], mean / np.linalg.norm(mean), atol=1e-5)
    images = tiny.embed_images(page_images(2))
    assert images.shape == (2, TINY_COLPALI_DIM) and _unit_rows(images)
    assert tiny.embed_queries([]).shape == (0, TINY_COLPALI_DIM)
    assert tiny.embed_query_tokens([]) == [] and tiny.embed_image_tokens([]) == []


def test_small_images_keep_their_tokens(model_dirs: dict[str, Path]) -> None:
    # A 32 x 32 picture through the tiny ColQwen2 (dynamic resolution): 16 image tokens and
    # the prompt's, fewer than 64, so pooling leaves them as they are.
    encoder = load_encoder(f"colpali:{model_dirs['colqwen2']}")
    assert isinstance(encoder, ColPaliEncoder)
    small = page_images(1, size=(32, 32))
    [full] = encoder.embed_image_tokens(small, pooled=False)
    [pooled] = encoder.embed_image_tokens(small)
    assert full.shape[0] < MAX_VECTORS
    np.testing.assert_array_equal(pooled, full)


def test_modes_of_images_and_bad_inputs(tiny: ColPaliEncoder) -> None:
    from tests.helpers.tiny_models import sample_images

    tokens = tiny.embed_image_tokens(sample_images(4))  # RGB, RGBA, L, P
    assert all(_unit_rows(t) for t in tokens)
    with pytest.raises(ConfigError, match="single string"):
        tiny.embed_query_tokens("a query")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a PIL image"):
        tiny.embed_image_tokens(["page.png"])  # type: ignore[list-item]


def test_pooling_options(model_dirs: dict[str, Path]) -> None:
    path = str(model_dirs["colpali"])
    none = ColPaliEncoder(path, pooling="none")
    assert none.info.revision.endswith("+none")
    [tokens] = none.embed_image_tokens(page_images(1))
    assert tokens.shape[0] > MAX_VECTORS
    sixteen = ColPaliEncoder(path, max_vectors=16)
    assert sixteen.info.revision.endswith("+cluster16")
    assert sixteen.embed_image_tokens(page_images(1))[0].shape == (16, TINY_COLPALI_DIM)
    with pytest.raises(ConfigError, match="pooling"):
        ColPaliEncoder(path, pooling="spatial")
    with pytest.raises(ConfigError, match="max_vectors"):
        ColPaliEncoder(path, max_vectors=0)


def test_embedding_calls_hold_the_encoder_lock() -> None:
    for name in ("embed_query_tokens", "embed_image_tokens", "embed_queries", "embed_images"):
        assert getattr(getattr(ColPaliEncoder, name), "__polyseek_locked__", False), name


def test_cached_hub_model_loads_offline(model_dirs: dict[str, Path], empty_hub_cache: Path) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    fake_hub_cache(empty_hub_cache, "polyseek/tiny-colqwen2", model_dirs["colqwen2"], commit)
    encoder = load_encoder("colpali:polyseek/tiny-colqwen2")
    assert encoder.info.revision == f"polyseek/tiny-colqwen2@{commit}+cluster{MAX_VECTORS}"
    reference = load_encoder(f"colpali:{model_dirs['colqwen2']}")
    assert isinstance(encoder, ColPaliEncoder) and isinstance(reference, ColPaliEncoder)
    np.testing.assert_allclose(
        encoder.embed_query_tokens(["a query"])[0], reference.embed_query_tokens(["a query"])[0]
    )


def test_missing_hub_model_fails_at_once_with_a_hint(empty_hub_cache: Path) -> None:
    with pytest.raises(EncoderError) as info:
        load_encoder("colpali:vidore/colpali-v1.3-hf")
    assert "vidore/colpali-v1.3-hf" in info.value.message
    assert "not available locally" in info.value.message
    assert info.value.hint and "download vidore/colpali-v1.3-hf" in info.value.hint


def test_other_models_and_broken_folders_are_refused(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    clip = make_tiny_clip(tmp_path / "clip")
    with pytest.raises(EncoderError, match="model_type 'clip'.*not a ColPali") as info:
        load_encoder(f"colpali:{clip}")
    assert info.value.hint and "-hf" in info.value.hint
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder(f"colpali:{tmp_path / 'nowhere'}")
    no_processor = tmp_path / "no-processor"
    no_processor.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(model_dirs["colpali"] / name, no_processor / name)
    with pytest.raises(EncoderError, match="cannot load the processor"):
        load_encoder(f"colpali:{no_processor}")
    with pytest.raises(ConfigError, match="needs a model"):
        ColPaliEncoder(None)


# ---------------------------------------------------------------------------- pooling
def _directions(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((n, dim)).astype(np.float32)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_cluster_tokens_merges_near_duplicates_in_first_token_order() -> None:
    rng = np.random.default_rng(1)
    centres = _directions(4)
    # 40 tokens: each centre 10 times with a little noise, shuffled.
    owner = rng.permutation(np.repeat(np.arange(4), 10))
    tokens = centres[owner] + 0.01 * rng.standard_normal((40, 8)).astype(np.float32)
    tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
    pooled = cluster_tokens(tokens, 4)
    assert pooled.shape == (4, 8) and _unit_rows(pooled)
    order = list(dict.fromkeys(owner.tolist()))  # centres in the order they first appear
    np.testing.assert_allclose(pooled, centres[order], atol=0.01)
    np.testing.assert_array_equal(cluster_tokens(tokens, 4), pooled)  # deterministic


def test_cluster_tokens_bounds() -> None:
    tokens = _directions(100)
    for m in (1, 7, 64, 99):
        out = cluster_tokens(tokens, m)
        assert 1 <= len(out) <= m and _unit_rows(out)
    np.testing.assert_array_equal(cluster_tokens(tokens, 100), tokens)
    np.testing.assert_array_equal(cluster_tokens(tokens[:1], 64), tokens[:1])
    with pytest.raises(ConfigError):
        cluster_tokens(tokens, 0)


# ---------------------------------------------------------------- items and searches
def test_embed_items_gives_a_row_per_pooled_token(model_dirs: dict[str, Path]) -> None:
    from polyseek.encoders.items import embed_items
    from polyseek.types import Item, Locator

    encoder = load_encoder(f"colpali:{model_dirs['colqwen2']}")
    assert isinstance(encoder, ColPaliEncoder)
    big, small = page_images(1)[0], page_images(1, size=(32, 32))[0]
    items = [
        Item("a.pdf", "page", Locator(page=1), "page text", image=big),
        Item("notes.txt", "text", Locator(char_start=0, char_end=5), "hello"),  # no picture
        Item("b.png", "image", Locator(), "", image=small),
    ]
    ids, vectors = embed_items(encoder, items)
    tokens = encoder.embed_image_tokens([big, small])
    assert ids == [items[0].id] * MAX_VECTORS + [items[2].id] * len(tokens[1])
    np.testing.assert_allclose(vectors, np.concatenate(tokens), atol=1e-5)
    none, empty = embed_items(encoder, items[1:2])
    assert none == [] and empty.shape == (0, TINY_COLPALI_DIM)


def test_engine_searches_pages_by_maxsim(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    from polyseek import Engine
    from polyseek.ingest.options import IngestOptions
    from polyseek.store.maxsim import maxsim_scores
    from tests.helpers.ingest_files import text_pdf

    root = tmp_path / "collection"
    root.mkdir()
    pages = [
        "The housing bolts are tightened to a torque of 25 Nm.",
        "Torque the impeller nut of the pump housing to 40 Nm.",
        "Drain the volute casing before opening the housing.",
    ]
    (root / "guide.pdf").write_bytes(text_pdf(pages))
    (root / "notes.txt").write_text("Housing bolts: check the torque each year.\n")
    spec = f"colpali:{model_dirs['colpali']}"
    engine = Engine.open(root, create=True, encoders=["minilm", spec])
    engine.index(options=IngestOptions(ocr=False, pdf_regions=False))
    info = next(i for i in engine.encoder_infos if i.spec == spec)
    view = engine.collection.store.vectors(info.key)
    page_ids = sorted(set(view.ids.tolist()))
    assert len(page_ids) == 3  # the pages' renders; the text file has no picture
    assert all(len(view.rows_of(i)) == MAX_VECTORS for i in page_ids)

    query = "torque of the housing bolts"
    only = engine.search(query, top=5, encoders=(spec,), lexical=False)
    encoder = load_encoder(spec)
    assert isinstance(encoder, ColPaliEncoder)
    tokens = encoder.embed_query_tokens([query])[0]
    expected = maxsim_scores(view, tokens, page_ids)
    assert [h.item_id for h in only.hits] == sorted(expected, key=lambda i: (-expected[i], i))
    assert [h.score for h in only.hits] == pytest.approx([expected[h.item_id] for h in only.hits])

    fused = engine.search(query, top=5)  # minilm + colpali + BM25, fused
    assert {h.source for h in fused.hits} == {"guide.pdf", "notes.txt"}
    for hit in fused.hits:
        if hit.modality == "page":
            assert hit.signals[spec] == pytest.approx(expected[hit.item_id], abs=1e-4)
        else:
            assert spec not in hit.signals
    with pytest.raises(QueryError, match="image-text encoder"):
        engine.search(image=page_images(1)[0], encoders=(spec,))
