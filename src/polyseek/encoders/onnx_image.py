"""Image towers on ONNX Runtime, fp32 or dynamic int8, chosen by a calibration check.

Used by the transformers CLIP/SigLIP encoder and the open_clip encoder: each hands over
its loaded image tower (a function of the pixel tensor its own preprocessing makes) and
the preprocessing itself, which stays the encoder's: only the network after it changes.

On the first load of a model (per model revision and library versions, see
:mod:`polyseek.encoders._onnx`) the tower is exported to ONNX (fp32), quantised to int8
(``quantize_dynamic``: int8 MatMul weights, activations quantised per run) and both are
checked against the eager model on :func:`calibration_images`. The verdict is stored with
the export, so later loads only read it:

* ``POLYSEEK_ONNX=auto`` (default): int8 when its cosine to eager is at least
  :data:`INT8_MIN_COSINE` on every calibration image (and fp32 reached
  :data:`FP32_MIN_COSINE`), else eager PyTorch;
* ``fp32``: the fp32 export when it reaches :data:`FP32_MIN_COSINE`, else eager;
* ``off``: eager.

Why automatic, and why int8 only: on the CLIP ViT-B/32 architecture (random weights, 256
real pictures, ``benchmarks/image_ingest.py``) int8 in batches embedded 2.2-2.3x faster
than eager at cosine >= 0.9997, while fp32 on ONNX Runtime, equal to eager (cosine
1.000000), measured 0.90-1.07x its speed for ~6% more CPU: no gain. A model that
quantises badly (the tiny random SigLIP does: 0.9988) fails the check and stays eager, so
nobody has to know in advance.

**One image per run in int8.** Dynamic quantisation takes one scale per activation
tensor, so in a batch an image's vector depended on the other images of the batch
(ViT-B/32: cosine 0.99985 between an image embedded in a batch of 64 and alone). The
vector stored at ingest was then not the one the same picture gives as a query (an exact
duplicate scored below 1.0 and could lose to a near one), re-indexing changed vectors of
files that had not changed, and a moment pooled from its keyframes was not the mean of
its pictures' vectors. So the int8 tower runs each image on its own, and a vector is a
function of its picture alone. The cost, ViT-B/32, 64 images, preprocessing included,
median of 3 on a busy 2-core machine: int8 in batches 1.8 s (2.8 CPU s), int8 one by one
2.1 s (3.9 CPU s), eager 5.1 s (9.7 CPU s). fp32 is batch-invariant (to float rounding)
and keeps its batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from polyseek.encoders._onnx import (
    ExportCache,
    OnnxMode,
    export_module,
    import_onnxruntime,
    load_or_export,
    make_session,
    min_cosine,
    quantize_int8,
    runtime_versions,
)

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from PIL.Image import Image

logger = logging.getLogger(__name__)

FP32_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.999
FP32_FILE = "image-fp32.onnx"
INT8_FILE = "image-int8.onnx"
INPUT = "pixel_values"
OUTPUT = "image_embeds"

ImageRuntime = Literal["torch", "onnx-fp32", "onnx-int8"]
Preprocess = Callable[[list["Image"]], np.ndarray]
"""Images -> the pixel batch (float32, N x C x H x W) the encoder's own preprocessing makes."""
TowerFn = Callable[[Any, Any], Any]
"""``(model, pixel tensor) -> image embedding tensor``: the eager image tower."""


def calibration_images(n: int = 8) -> list[Image]:
    """``n`` deterministic pictures of assorted content, sizes and aspect ratios.

    Smooth gradients, hard edges, fine texture and noise: they exercise the activations'
    range as photos do, and need no file.
    """
    from PIL import Image as PILImage
    from PIL import ImageDraw

    rng = np.random.default_rng(0)
    sizes = [(224, 224), (320, 240), (180, 300), (96, 96), (640, 360), (64, 64), (256, 192)]
    images = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        kind = i % 4
        if kind == 0:  # colour gradients
            rgb = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1)
        elif kind == 1:  # low-frequency "scene": upsampled smooth noise
            coarse = rng.random((4, 4, 3)).astype(np.float32)
            small = PILImage.fromarray((coarse * 255).astype(np.uint8))
            rgb = np.asarray(small.resize((w, h), PILImage.Resampling.BICUBIC), np.float32) / 255
        elif kind == 2:  # checkerboard and stripes: hard edges
            rgb = np.stack(
                [(xx // 16 + yy // 16) % 2, (xx // 5) % 2, np.full_like(xx, 0.5)], axis=-1
            )
        else:  # texture: per-pixel noise
            rgb = rng.random((h, w, 3)).astype(np.float32)
        image = PILImage.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        draw.ellipse((w // 4, h // 4, w // 2, h // 2), fill=(int(255 * (i % 2)), 40, 200))
        draw.line((0, h - 1, w - 1, 0), fill=(250, 250, 20), width=3)
        images.append(image)
    return images


class OnnxImageTower:
    """A pixel batch -> embedding rows (float32, not normalised), on ONNX Runtime.

    int8 runs one image per session call, so that no row depends on the others (see the
    module docstring); fp32 runs the batch at once.
    """

    def __init__(self, session: InferenceSession, runtime: ImageRuntime) -> None:
        self._session = session
        self.runtime = runtime

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(pixels, dtype=np.float32)
        if self.runtime != "onnx-int8" or len(batch) <= 1:
            return self._run(batch)
        return np.vstack([self._run(batch[i : i + 1]) for i in range(len(batch))])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._session.run([OUTPUT], {INPUT: batch})[0], dtype=np.float32)


@dataclass(frozen=True)
class TowerSource:
    """What an encoder hands over: its loaded model, how to call its image tower, and
    its own preprocessing. ``identity`` names the weights (revision) and the code that
    runs them (library versions) for the cache key."""

    what: str  # for log lines and errors, e.g. "clip:/models/clip-b32"
    name: str  # cache directory prefix, e.g. "clip-image"
    model: Any  # a torch.nn.Module
    tower: TowerFn
    preprocess: Preprocess
    identity: Mapping[str, str]


def load_image_tower(source: TowerSource, mode: OnnxMode) -> OnnxImageTower | None:
    """The ONNX image tower ``mode`` allows and the calibration passed, or None (eager)."""
    if mode == "off":
        return None
    ort = import_onnxruntime(f"the image tower of {source.what}")
    if ort is None:
        return None
    if source.identity.get("revision", "unknown") == "unknown":
        logger.info(
            "%s: image tower stays on PyTorch (unknown revision: no cache key)", source.what
        )
        return None
    parts = {**source.identity, **runtime_versions("torch", "onnxruntime", "onnx")}
    cache = ExportCache(source.name, parts)

    def need(manifest: Mapping[str, Any]) -> Sequence[str]:
        file = _choose(manifest.get("calibration", {}), mode)
        return [file] if file else []

    try:
        export, files = load_or_export(
            cache,
            lambda directory: _export(source, ort, directory),
            what=f"the image tower of {source.what}",
            need=need,
        )
    except Exception as exc:  # any failure of the fast path leaves the eager one
        logger.warning(
            "%s: image tower stays on PyTorch: its ONNX export failed: %s", source.what, exc
        )
        return None
    calibration = export.manifest.get("calibration", {})
    if not files:
        fp32_ok = calibration.get("fp32_min_cosine", 0.0) >= FP32_MIN_COSINE
        why = (
            "int8 did not match eager, and fp32 alone is no faster"
            if fp32_ok
            else "ONNX did not match eager"
        )
        logger.info(
            "%s: image tower stays on PyTorch: %s (%s)", source.what, why, _describe(calibration)
        )
        return None
    (file, data), *_ = files.items()
    runtime: ImageRuntime = "onnx-int8" if file == INT8_FILE else "onnx-fp32"
    logger.info("%s: image tower on %s (%s)", source.what, runtime, _describe(calibration))
    return OnnxImageTower(make_session(ort, data), runtime)


def _choose(calibration: Mapping[str, Any], mode: OnnxMode) -> str | None:
    """The file to run, or None for eager.

    ``auto`` takes int8 when both it and fp32 (its source) matched eager, else eager: fp32
    alone measured no faster than eager (0.90-1.07x, 6% more CPU on ViT-B/32), so it is
    not worth a second copy of the weights unless asked for with ``fp32``.
    """
    fp32 = calibration.get("fp32_min_cosine")
    int8 = calibration.get("int8_min_cosine")
    if not (isinstance(fp32, float) and fp32 >= FP32_MIN_COSINE):
        return None
    if mode == "fp32":
        return FP32_FILE
    if isinstance(int8, float) and int8 >= INT8_MIN_COSINE:
        return INT8_FILE
    return None


def _describe(calibration: Mapping[str, Any]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.6f}" if isinstance(value, float) else "n/a"

    return (
        f"min cosine to eager over {calibration.get('images', 0)} calibration images: "
        f"fp32 {fmt(calibration.get('fp32_min_cosine'))}, "
        f"int8 {fmt(calibration.get('int8_min_cosine'))}"
    )


def tower_module(model: Any, tower: TowerFn) -> Any:
    """A ``torch.nn.Module`` whose ``forward(pixels)`` is ``tower(model, pixels)``."""
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model  # a submodule: its weights are exported as initialisers

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return tower(self.model, pixels)  # type: ignore[no-any-return]

    return ImageTower().eval()


def _export(source: TowerSource, ort: ModuleType, directory: Path) -> dict[str, Any]:
    """Export fp32, quantise int8, calibrate both against eager; returns manifest extras."""
    import torch

    pixels = source.preprocess(calibration_images())
    module = tower_module(source.model, source.tower)
    with torch.inference_mode():
        start = time.perf_counter()
        eager = module(torch.from_numpy(pixels)).float().numpy()
        eager_s = time.perf_counter() - start
    fp32_path = directory / FP32_FILE
    export_module(
        module,
        (torch.from_numpy(pixels[:2]),),
        fp32_path,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
    )
    calibration: dict[str, Any] = {"images": len(pixels), "eager_s": round(eager_s, 3)}
    fp32 = OnnxImageTower(make_session(ort, fp32_path.read_bytes()), "onnx-fp32")
    calibration["fp32_min_cosine"] = _check(fp32, pixels, eager, calibration, "fp32")
    int8_path = directory / INT8_FILE
    try:
        quantize_int8(fp32_path, int8_path)
        int8 = OnnxImageTower(make_session(ort, int8_path.read_bytes()), "onnx-int8")
        calibration["int8_min_cosine"] = _check(int8, pixels, eager, calibration, "int8")
    except Exception as exc:  # int8 is optional: fp32 stands on its own
        logger.warning("%s: int8 quantisation failed, fp32 only: %s", source.what, exc)
        calibration["int8_error"] = f"{type(exc).__name__}: {exc}"
        int8_path.unlink(missing_ok=True)
    logger.info("%s: %s", source.what, _describe(calibration))
    return {"calibration": calibration}


def _check(
    tower: OnnxImageTower,
    pixels: np.ndarray,
    eager: np.ndarray,
    calibration: dict[str, Any],
    name: str,
) -> float:
    """Min cosine to eager over the batch, and over single images (the batch axis is real)."""
    start = time.perf_counter()
    batch = tower(pixels)
    calibration[f"{name}_s"] = round(time.perf_counter() - start, 3)
    single = np.vstack([tower(pixels[i : i + 1]) for i in range(2)])
    return min(min_cosine(batch, eager), min_cosine(single, eager[:2]))
