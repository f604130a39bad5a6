"""open_clip's image tower on ONNX Runtime, on the tiny open_clip model saved to disk.

Needs the open-clip extra; CI runs these in their own venv: ``bash .ci/openclip.sh``.
The export is made into the session's ``$POLYSEEK_CACHE`` (conftest).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import onnx_image
from polyseek.encoders.base import Encoder
from tests.helpers.tiny_models import TINY_DIM, make_tiny_open_clip, sample_images

pytestmark = pytest.mark.openclip

FP32_MIN_COSINE = 0.9999
INT8_MIN_COSINE_OTHER_IMAGES = 0.998  # as in test_onnx_image.py: tiny towers quantise worse


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("open_clip")
    return make_tiny_open_clip(tmp_path_factory.mktemp("tiny-open-clip-onnx"))


@pytest.fixture(scope="module")
def towers(tiny_dir: Path) -> dict[str, Encoder]:
    from polyseek.encoders.open_clip import OpenClipEncoder

    return {mode: OpenClipEncoder(str(tiny_dir), onnx=mode) for mode in ("off", "fp32", "auto")}


def test_runtimes_and_info(towers: dict[str, Encoder], onnx_cache: Path) -> None:
    assert towers["off"].image_runtime == "torch"  # type: ignore[attr-defined]
    assert towers["fp32"].image_runtime == "onnx-fp32"  # type: ignore[attr-defined]
    (manifest,) = (
        cache_file for cache_file in (onnx_cache / "onnx").glob("open_clip-image-*/manifest.json")
    )
    calibration = json.loads(manifest.read_text())["calibration"]
    int8_ok = calibration["int8_min_cosine"] >= onnx_image.INT8_MIN_COSINE
    assert towers["auto"].image_runtime == ("onnx-int8" if int8_ok else "torch")  # type: ignore[attr-defined]
    assert towers["off"].info == towers["fp32"].info == towers["auto"].info


def test_fp32_equals_eager(towers: dict[str, Encoder]) -> None:
    images = sample_images(18)
    eager = towers["off"].embed_images(images)
    fp32 = towers["fp32"].embed_images(images)
    assert fp32.shape == (18, TINY_DIM) and fp32.dtype == np.float32
    assert _cos(fp32, eager).min() >= FP32_MIN_COSINE
    np.testing.assert_allclose(fp32[16:17], towers["fp32"].embed_images(images[16:17]), atol=1e-5)


def test_automatic_choice_matches_eager(towers: dict[str, Encoder]) -> None:
    images = sample_images(18) + onnx_image.calibration_images()
    eager = towers["off"].embed_images(images)
    auto = towers["auto"].embed_images(images)
    int8 = towers["auto"].image_runtime == "onnx-int8"  # type: ignore[attr-defined]
    assert _cos(auto, eager).min() >= (INT8_MIN_COSINE_OTHER_IMAGES if int8 else FP32_MIN_COSINE)


def test_text_queries_stay_eager(towers: dict[str, Encoder]) -> None:
    texts = ["a red pump housing", "", "a photo of a dog"]
    expected = towers["off"].embed_queries(texts)
    np.testing.assert_array_equal(towers["auto"].embed_queries(texts), expected)


def test_without_onnxruntime_images_stay_eager(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from polyseek.encoders.open_clip import OpenClipEncoder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with caplog.at_level(logging.INFO, logger="polyseek.encoders._onnx"):
        encoder = OpenClipEncoder(str(tiny_dir))
    assert encoder.image_runtime == "torch"
    assert "onnxruntime is not available" in caplog.text
