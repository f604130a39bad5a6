"""CLIP and SigLIP through transformers, on tiny random models saved to disk.

Every test of the ``tiny`` fixture runs twice per model: images through the eager
PyTorch tower and through its ONNX fp32 export (``POLYSEEK_ONNX=fp32``). The int8 tower
embeds within cosine 0.999 of eager but not within the 1e-5 tolerances used here (and a
dynamically quantised batch is not bit-equal to the same images one by one), so it is
tested against eager by cosine in test_onnx_image.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyseek import hub
from polyseek.encoders import clear_encoder_cache, load_encoder
from polyseek.encoders.base import Encoder
from polyseek.errors import ConfigError, EncoderError
from tests.helpers.tiny_models import TINY_DIM, fake_hub_cache, sample_images

TEXTS = [
    "a red pump housing",
    "exploded view",
    "",
    "a much longer description of a blue photograph of a dog running on a beach",
    "x",
]


RUNTIMES = {"eager": ("off", "torch"), "onnx-fp32": ("fp32", "onnx-fp32")}


@pytest.fixture(
    scope="module",
    params=[f"{b}/{r}" for b in ("clip", "siglip") for r in RUNTIMES],
)
def tiny(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path, Encoder]]:
    """(backend, model dir, encoder) for each tiny two-tower model and image runtime."""
    backend, _, runtime = request.param.partition("/")
    mode, expected = RUNTIMES[runtime]
    path = request.getfixturevalue(f"tiny_{backend}_dir")
    mp = pytest.MonkeyPatch()
    mp.setenv("POLYSEEK_ONNX", mode)
    clear_encoder_cache()
    encoder = load_encoder(f"{backend}:{path}")
    assert encoder.image_runtime == expected  # type: ignore[attr-defined]
    yield backend, path, encoder
    mp.undo()
    clear_encoder_cache()


def test_info(tiny: tuple[str, Path, Encoder]) -> None:
    backend, path, encoder = tiny
    assert encoder.info.spec == f"{backend}:{path}"
    assert encoder.info.kind == "image-text"
    assert encoder.info.dim == TINY_DIM
    assert encoder.info.revision == hub.fingerprint(path)
    assert encoder.model_type == backend  # type: ignore[attr-defined]


def test_text_queries(tiny: tuple[str, Path, Encoder]) -> None:
    _, _, encoder = tiny
    out = encoder.embed_queries(TEXTS)
    assert out.shape == (len(TEXTS), TINY_DIM)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(out[0], out[1])
    np.testing.assert_array_equal(out, encoder.embed_queries(TEXTS))  # deterministic


def test_text_batch_equals_single(tiny: tuple[str, Path, Encoder]) -> None:
    # Batches are sorted by length internally; rows must come back in input order.
    _, _, encoder = tiny
    batch = encoder.embed_queries(TEXTS)
    singles = np.vstack([encoder.embed_queries([t]) for t in TEXTS])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_images(tiny: tuple[str, Path, Encoder]) -> None:
    _, _, encoder = tiny
    images = sample_images(20)  # crosses a batch boundary (16); RGB, RGBA, L and P modes
    out = encoder.embed_images(images)
    assert out.shape == (20, TINY_DIM)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, encoder.embed_images(images))
    np.testing.assert_allclose(out[17:18], encoder.embed_images(images[17:18]), atol=1e-5)
    assert not np.allclose(out[0], out[1])


def test_matches_the_model_card_recipe(tiny: tuple[str, Path, Encoder]) -> None:
    """Same vectors as the usage its model card shows (SigLIP: padding="max_length")."""
    import torch
    from transformers import AutoModel, AutoProcessor

    backend, path, encoder = tiny
    model = AutoModel.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    padding = "max_length" if backend == "siglip" else True
    images = sample_images(2)
    inputs = processor(text=TEXTS[:2], images=images, padding=padding, return_tensors="pt")
    with torch.inference_mode():
        out = model(**inputs)
    text = torch.nn.functional.normalize(out.text_embeds, dim=-1).numpy()
    image = torch.nn.functional.normalize(out.image_embeds, dim=-1).numpy()
    np.testing.assert_allclose(encoder.embed_queries(TEXTS[:2]), text, atol=1e-5)
    np.testing.assert_allclose(encoder.embed_images(images), image, atol=1e-5)


def test_empty_batches(tiny: tuple[str, Path, Encoder]) -> None:
    _, _, encoder = tiny
    assert encoder.embed_queries([]).shape == (0, TINY_DIM)
    assert encoder.embed_images([]).shape == (0, TINY_DIM)


def test_bad_inputs(tiny: tuple[str, Path, Encoder]) -> None:
    _, _, encoder = tiny
    with pytest.raises(ConfigError, match="single string"):
        encoder.embed_queries("a bare string")
    with pytest.raises(ConfigError, match="not a PIL image"):
        encoder.embed_images(["image.png"])  # type: ignore[list-item]


def test_item_texts_go_through_the_text_tower(tiny: tuple[str, Path, Encoder]) -> None:
    """So that an image query can reach text items (issue 16)."""
    _, _, encoder = tiny
    texts = ["an item text", "another one"]
    np.testing.assert_allclose(encoder.embed_documents(texts), encoder.embed_queries(texts))


def test_aliases_share_the_backend(tiny_clip_dir: Path) -> None:
    encoder = load_encoder(f"hf:{tiny_clip_dir}")
    assert encoder.info.spec == f"hf:{tiny_clip_dir}"
    reference = load_encoder(f"clip:{tiny_clip_dir}")
    np.testing.assert_array_equal(encoder.embed_queries(TEXTS), reference.embed_queries(TEXTS))


def test_cached_hub_model_loads_offline(tiny_clip_dir: Path, empty_hub_cache: Path) -> None:
    commit = "fedcba9876543210fedcba9876543210fedcba98"
    fake_hub_cache(empty_hub_cache, "polyseek/tiny-clip", tiny_clip_dir, commit)
    encoder = load_encoder("clip:polyseek/tiny-clip")
    assert encoder.info.revision == f"polyseek/tiny-clip@{commit}"
    reference = load_encoder(f"clip:{tiny_clip_dir}")
    np.testing.assert_allclose(encoder.embed_queries(TEXTS), reference.embed_queries(TEXTS))


def test_broken_tokenizer_is_detected(tiny_clip_dir: Path, tmp_path: Path) -> None:
    from transformers import CLIPTokenizer

    broken = tmp_path / "broken"
    shutil.copytree(tiny_clip_dir, broken)
    # What transformers can hand out offline: a tokenizer with a 2-5 token vocabulary.
    CLIPTokenizer().save_pretrained(broken)
    with pytest.raises(EncoderError, match=r"has only \d tokens"):
        load_encoder(f"clip:{broken}")


def test_directory_without_processor(tiny_clip_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_clip_dir / name, bare / name)
    with pytest.raises(EncoderError, match="processor"):
        load_encoder(f"clip:{bare}")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder(f"clip:{tmp_path / 'no' / 'such' / 'model'}")
