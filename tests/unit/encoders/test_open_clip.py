"""open_clip on a tiny model, through every model-reference form users write.

Needs the open-clip extra; CI runs these in their own venv: ``bash .ci/openclip.sh``.
These test the eager PyTorch tower (``POLYSEEK_ONNX=off``, to 1e-6 between reference
forms); its ONNX exports are tested against it in test_open_clip_onnx.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyseek import hub
from polyseek.encoders import clear_encoder_cache, load_encoder
from polyseek.encoders.base import Encoder
from polyseek.errors import ConfigError, EncoderError
from tests.helpers.tiny_models import (
    TINY_DIM,
    TINY_OPEN_CLIP_ARCH,
    fake_hub_cache,
    make_tiny_open_clip,
    sample_images,
)

pytestmark = pytest.mark.openclip

TEXTS = ["a red pump housing", "", "a photo of a dog running on a beach in the evening"]


@pytest.fixture(scope="module", autouse=True)
def _eager_images() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("POLYSEEK_ONNX", "off")
    clear_encoder_cache()
    yield
    mp.undo()
    clear_encoder_cache()


@pytest.fixture(scope="module")
def tiny_open_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("open_clip")
    return make_tiny_open_clip(tmp_path_factory.mktemp("tiny-open-clip"))


@pytest.fixture(scope="module")
def reference(tiny_open_clip_dir: Path) -> Encoder:
    return load_encoder(f"open_clip:{tiny_open_clip_dir}")


def test_directory(reference: Encoder, tiny_open_clip_dir: Path) -> None:
    info = reference.info
    assert info.spec == f"open_clip:{tiny_open_clip_dir}"
    assert info.kind == "image-text"
    assert info.dim == TINY_DIM
    assert info.revision == hub.fingerprint(tiny_open_clip_dir)

    text = reference.embed_queries(TEXTS)
    assert text.shape == (len(TEXTS), TINY_DIM) and text.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(text, reference.embed_queries(TEXTS))
    singles = np.vstack([reference.embed_queries([t]) for t in TEXTS])
    np.testing.assert_allclose(text, singles, atol=1e-5)

    images = sample_images(18)
    pixels = reference.embed_images(images)
    assert pixels.shape == (18, TINY_DIM) and pixels.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pixels, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(pixels[16:17], reference.embed_images(images[16:17]), atol=1e-5)

    assert reference.embed_queries([]).shape == (0, TINY_DIM)
    # Item texts go through the text tower, so an image query reaches text items too.
    np.testing.assert_allclose(reference.embed_documents(TEXTS), reference.embed_queries(TEXTS))


@pytest.mark.parametrize(
    "ref",
    [
        "local-dir:{dir}",
        f"{TINY_OPEN_CLIP_ARCH}@{{dir}}/weights.pt",
        f"{TINY_OPEN_CLIP_ARCH}@{{dir}}/open_clip_model.safetensors",
    ],
)
def test_other_reference_forms_load_the_same_model(
    ref: str, reference: Encoder, tiny_open_clip_dir: Path
) -> None:
    for backend in ("open_clip", "open-clip"):
        encoder = load_encoder(f"{backend}:" + ref.format(dir=tiny_open_clip_dir))
        assert encoder.info.dim == TINY_DIM
        images = sample_images(3)
        np.testing.assert_allclose(
            encoder.embed_queries(TEXTS), reference.embed_queries(TEXTS), atol=1e-6
        )
        np.testing.assert_allclose(
            encoder.embed_images(images), reference.embed_images(images), atol=1e-6
        )


def test_cached_hf_hub_model_loads_offline(
    tiny_open_clip_dir: Path, reference: Encoder, empty_hub_cache: Path
) -> None:
    commit = "00112233445566778899aabbccddeeff00112233"
    fake_hub_cache(empty_hub_cache, "polyseek/tiny-open-clip", tiny_open_clip_dir, commit)
    encoder = load_encoder("open_clip:hf-hub:polyseek/tiny-open-clip")
    assert encoder.info.revision == f"polyseek/tiny-open-clip@{commit}"
    np.testing.assert_allclose(
        encoder.embed_queries(TEXTS), reference.embed_queries(TEXTS), atol=1e-6
    )


@pytest.mark.parametrize(
    ("ref", "names"),
    [
        ("ViT-B-32/laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
        ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
    ],
)
def test_uncached_pretrained_fails_fast_offline(
    ref: str, names: str, empty_hub_cache: Path
) -> None:
    pytest.importorskip("open_clip")
    clear_encoder_cache()
    start = time.monotonic()
    with pytest.raises(EncoderError) as info:
        load_encoder(f"open_clip:{ref}")
    assert time.monotonic() - start < 5
    assert names in str(info.value)
    assert "huggingface-cli download" in str(info.value)


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("ViT-B-32/no-such-tag", "laion2b_s34b_b79k"),  # lists the valid tags
        ("ViT-B-32", "needs pretrained weights"),
        ("ViT-B-99/openai", "unknown open_clip architecture"),
        ("NoSuchArch@/tmp/w.pt", "unknown open_clip architecture"),
        ("someorg/somemodel", "hf-hub:someorg/somemodel"),
    ],
)
def test_bad_references(ref: str, match: str) -> None:
    pytest.importorskip("open_clip")
    with pytest.raises(ConfigError, match=match):
        load_encoder(f"open_clip:{ref}")


def test_missing_files(tmp_path: Path, tiny_open_clip_dir: Path) -> None:
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder(f"open_clip:{TINY_OPEN_CLIP_ARCH}@{tmp_path / 'missing.pt'}")
    with pytest.raises(EncoderError, match="open_clip_config.json"):
        load_encoder(f"open_clip:{tmp_path}")
    with pytest.raises(ConfigError, match="ARCH@"):
        load_encoder(f"open_clip:{tiny_open_clip_dir / 'weights.pt'}")
