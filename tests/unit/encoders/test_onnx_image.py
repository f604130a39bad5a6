"""CLIP and SigLIP image towers on ONNX Runtime, on the tiny random models saved to disk.

The same models as test_transformers_clip.py, loaded through the real loading code; the
export is made once per session into the session's ``$POLYSEEK_CACHE`` (conftest).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import onnx_image
from polyseek.encoders.transformers_clip import TransformersImageTextEncoder
from tests.helpers.tiny_models import TINY_DIM, sample_images

FP32_MIN_COSINE = 0.9999
# What int8 must reach on images it was not calibrated on. Tiny random towers quantise
# worse than real ones (ViT-B/32: >= 0.9997, benchmarks/image_ingest.py); this is what the
# tiny CLIP reaches on sample_images with margin.
INT8_MIN_COSINE_OTHER_IMAGES = 0.998

TEXTS = ["a red pump housing", "", "a photo of a dog"]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module", params=["clip", "siglip"])
def towers(request: pytest.FixtureRequest) -> dict[str, TransformersImageTextEncoder]:
    """The same tiny model loaded eager, ONNX fp32 and automatic (int8 when it matches)."""
    path = str(request.getfixturevalue(f"tiny_{request.param}_dir"))
    return {mode: TransformersImageTextEncoder(path, onnx=mode) for mode in ("off", "fp32", "auto")}


def _manifest(cache: Path, model_type: str) -> dict:
    (path,) = (cache / "onnx").glob(f"{model_type}-image-*/manifest.json")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_runtimes(towers: dict[str, TransformersImageTextEncoder], onnx_cache: Path) -> None:
    assert towers["off"].image_runtime == "torch"
    assert towers["fp32"].image_runtime == "onnx-fp32"
    # auto takes int8 exactly when int8 matched eager on the calibration images, else eager
    # (the tiny SigLIP's int8 reaches only ~0.9988: it shows the fallback).
    calibration = _manifest(onnx_cache, towers["auto"].model_type)["calibration"]
    int8_ok = calibration["int8_min_cosine"] >= onnx_image.INT8_MIN_COSINE
    assert towers["auto"].image_runtime == ("onnx-int8" if int8_ok else "torch")
    assert calibration["fp32_min_cosine"] >= FP32_MIN_COSINE


def test_every_runtime_describes_the_same_encoder(
    towers: dict[str, TransformersImageTextEncoder],
) -> None:
    assert towers["fp32"].info == towers["off"].info == towers["auto"].info
    assert towers["off"].info.dim == TINY_DIM


def test_fp32_equals_eager(towers: dict[str, TransformersImageTextEncoder]) -> None:
    images = sample_images(20)  # crosses the batch boundary (16); RGB, RGBA, L and P modes
    eager = towers["off"].embed_images(images)
    fp32 = towers["fp32"].embed_images(images)
    assert fp32.shape == (20, TINY_DIM) and fp32.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-5)
    assert _cos(fp32, eager).min() >= FP32_MIN_COSINE
    np.testing.assert_allclose(fp32[17:18], towers["fp32"].embed_images(images[17:18]), atol=1e-5)


def test_automatic_choice_matches_eager(towers: dict[str, TransformersImageTextEncoder]) -> None:
    images = sample_images(20) + onnx_image.calibration_images()
    eager = towers["off"].embed_images(images)
    auto = towers["auto"].embed_images(images)
    if towers["auto"].image_runtime == "onnx-int8":
        assert _cos(auto, eager).min() >= INT8_MIN_COSINE_OTHER_IMAGES
    else:
        np.testing.assert_array_equal(auto, eager)


def test_an_image_vector_does_not_depend_on_its_batch(
    towers: dict[str, TransformersImageTextEncoder],
) -> None:
    """Dynamic int8 scales activations per run: batched, a picture's vector moved with its
    neighbours (the stored vector was not the one the same picture gives as a query)."""
    images = sample_images(6)
    for mode in ("fp32", "auto"):
        batch = towers[mode].embed_images(images)
        alone = np.vstack([towers[mode].embed_images([im]) for im in images])
        np.testing.assert_allclose(batch, alone, atol=1e-6, err_msg=mode)


def test_text_queries_stay_eager_and_equal(towers: dict[str, TransformersImageTextEncoder]) -> None:
    expected = towers["off"].embed_queries(TEXTS)
    for mode in ("fp32", "auto"):
        np.testing.assert_array_equal(towers[mode].embed_queries(TEXTS), expected)


def test_a_second_load_reuses_the_export(
    tiny_clip_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    TransformersImageTextEncoder(str(tiny_clip_dir), onnx="fp32")  # exported by now
    with caplog.at_level(logging.INFO, logger="polyseek.encoders"):
        encoder = TransformersImageTextEncoder(str(tiny_clip_dir), onnx="fp32")
    assert encoder.image_runtime == "onnx-fp32"
    assert "exporting" not in caplog.text


def test_without_onnxruntime_images_stay_eager(
    tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with caplog.at_level(logging.INFO, logger="polyseek.encoders._onnx"):
        encoder = TransformersImageTextEncoder(str(tiny_clip_dir))
    assert encoder.image_runtime == "torch"
    assert "onnxruntime is not available" in caplog.text
    assert encoder.embed_images(sample_images(2)).shape == (2, TINY_DIM)


def test_the_environment_turns_onnx_off(
    tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYSEEK_ONNX", "0")
    assert TransformersImageTextEncoder(str(tiny_clip_dir)).image_runtime == "torch"


def test_a_failed_export_falls_back_to_eager(
    tiny_clip_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path / "cache"))  # nothing exported yet
    monkeypatch.setitem(sys.modules, "onnx", None)  # torch's exporter needs it
    with caplog.at_level(logging.WARNING, logger="polyseek.encoders"):
        encoder = TransformersImageTextEncoder(str(tiny_clip_dir))
    assert encoder.image_runtime == "torch"
    assert "pip install onnx" in caplog.text
    assert not list((tmp_path / "cache" / "onnx").iterdir())  # no partial export left


@pytest.mark.parametrize(
    ("calibration", "mode", "file"),
    [
        ({"fp32_min_cosine": 1.0, "int8_min_cosine": 0.9998}, "auto", onnx_image.INT8_FILE),
        ({"fp32_min_cosine": 1.0, "int8_min_cosine": 0.9998}, "fp32", onnx_image.FP32_FILE),
        ({"fp32_min_cosine": 1.0, "int8_min_cosine": 0.99}, "auto", None),  # fp32: no faster
        ({"fp32_min_cosine": 1.0, "int8_min_cosine": 0.99}, "fp32", onnx_image.FP32_FILE),
        ({"fp32_min_cosine": 1.0, "int8_error": "ValueError: no"}, "auto", None),
        ({"fp32_min_cosine": 0.98, "int8_min_cosine": 0.9995}, "auto", None),
        ({"fp32_min_cosine": 0.98}, "fp32", None),
        ({}, "auto", None),
    ],
)
def test_the_verdict_picks_the_fastest_export_that_matched(
    calibration: dict, mode: onnx_image.OnnxMode, file: str | None
) -> None:
    assert onnx_image._choose(calibration, mode) == file


def test_calibration_images_are_varied_and_deterministic() -> None:
    images = onnx_image.calibration_images()
    assert len(images) == 8
    assert len({image.size for image in images}) >= 5
    again = onnx_image.calibration_images()
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again, strict=True)
    )
