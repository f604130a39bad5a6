"""Two-tower image-text encoders through transformers' Auto classes: CLIP, SigLIP and kin.

Registered as ``clip``, ``siglip`` and ``hf`` (one class, a subclass per name so messages
name the backend the user wrote; the names only help the reader):
``clip:openai/clip-vit-base-patch32``, ``siglip:google/siglip-base-patch16-224``,
``clip:/models/my-clip`` (a directory written by ``save_pretrained`` for both the model and
its processor). The text side differs by architecture, and is chosen from
``model.config.model_type``, never from the model's name: SigLIP was trained on texts
padded to the full context (``padding="max_length"``), CLIP on unpadded ones.

The image tower runs on ONNX Runtime in int8 when its export matched the eager model on
calibration images (:mod:`polyseek.encoders.onnx_image`); ``POLYSEEK_ONNX=0``
(or ``onnx="off"``) keeps it on PyTorch. Models whose image processor returns more than
``pixel_values`` (SigLIP 2's variable resolution) stay on PyTorch.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek import hub
from polyseek.deps import require
from polyseek.encoders._onnx import onnx_mode, package_version
from polyseek.encoders._util import TwoTowerEncoder, as_float32_rows
from polyseek.encoders.base import EncoderInfo
from polyseek.encoders.onnx_image import (
    ImageRuntime,
    OnnxImageTower,
    TowerSource,
    load_image_tower,
)
from polyseek.errors import ConfigError, EncoderError, MissingDependencyError, PolyseekError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

# A tokenizer this small is a broken stand-in (transformers can hand one out offline).
MIN_VOCAB_SIZE = 64
# Architectures trained with texts padded to the full context length.
PAD_TO_MAX_LENGTH = frozenset({"siglip", "siglip2"})

_TRANSFORMERS_HINT = "pip install transformers torch"


def _features(output: Any) -> Any:
    """The embedding tensor from ``get_*_features``: a tensor, or a ModelOutput holding it."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None and isinstance(output, tuple) and len(output) > 1:
        pooled = output[1]
    if pooled is None:
        raise EncoderError(f"unexpected output of the model's feature function: {type(output)}")
    return pooled


def _dtype_kwarg(transformers: Any) -> str:
    """``dtype`` since transformers 4.56; ``torch_dtype`` before (deprecated after)."""
    try:
        major, minor = (int(p) for p in str(transformers.__version__).split(".")[:2])
    except ValueError:
        return "dtype"
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _accepted(fn: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``inputs`` that ``fn`` names as parameters (not its ``**kwargs``)."""
    names = _parameter_names(fn)
    if not names:  # an opaque (*args, **kwargs) wrapper: pass everything
        return dict(inputs)
    return {k: v for k, v in inputs.items() if k in names}


def _parameter_names(fn: Any) -> frozenset[str]:
    params = inspect.signature(fn).parameters.values()
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _load_error(what: str, location: str, exc: Exception) -> PolyseekError:
    text = str(exc)
    if "sentencepiece" in text.lower() or "protobuf" in text.lower():
        return MissingDependencyError(
            f"the tokenizer of {location!r} needs an extra package: {text}",
            hint="pip install sentencepiece protobuf",
        )
    return EncoderError(
        f"cannot load the {what} of {location!r}: {type(exc).__name__}: {text}",
        hint="the directory must hold a transformers image-text model and its processor "
        "(model.save_pretrained(dir); processor.save_pretrained(dir))",
    )


class TransformersImageTextEncoder(TwoTowerEncoder):
    """CLIP / SigLIP / any transformers model with ``get_text_features`` and ``get_image_features``.

    Embeds images (``embed_images``) and text queries (``embed_queries``) into one space;
    item texts are the text encoder's job, so ``embed_documents`` raises.
    """

    backend = "clip"

    def __init__(self, model_ref: str | None = None, *, onnx: str | None = None) -> None:
        mode = onnx_mode(onnx)
        if not model_ref:
            raise ConfigError(
                f"the {self.backend!r} encoder needs a model",
                hint="e.g. clip:openai/clip-vit-base-patch32, "
                "siglip:google/siglip-base-patch16-224 or clip:/path/to/saved/model",
            )
        require("torch", hint=_TRANSFORMERS_HINT, feature="the CLIP/SigLIP encoder")
        transformers = require("transformers", hint=_TRANSFORMERS_HINT, feature="the CLIP encoder")
        import torch

        resolved = hub.resolve_model(model_ref, backend=self.backend)
        kwargs: dict[str, Any] = {}
        if not resolved.local:
            kwargs["cache_dir"] = str(hub.hub_cache_dir())
            logger.info("downloading %s from the model hub", model_ref)
        with hub.offline_mode() if resolved.local else contextlib.nullcontext():
            try:
                model = transformers.AutoModel.from_pretrained(
                    resolved.location, **{_dtype_kwarg(transformers): torch.float32}, **kwargs
                )
            except Exception as exc:
                raise _load_error("model", model_ref, exc) from exc
            model_type = str(getattr(model.config, "model_type", ""))
            if not (hasattr(model, "get_text_features") and hasattr(model, "get_image_features")):
                raise EncoderError(
                    f"{model_ref!r} ({type(model).__name__}, model_type {model_type!r}) "
                    "is not a two-tower image-text model",
                    hint="for text-only models use the text encoder backend: st:<model>",
                )
            try:
                processor = transformers.AutoProcessor.from_pretrained(resolved.location, **kwargs)
            except Exception as exc:
                raise _load_error("processor", model_ref, exc) from exc
        model.eval()
        self._model = model
        self._model_type = model_type
        self._tokenizer: Any = getattr(processor, "tokenizer", None)
        self._image_processor: Any = getattr(processor, "image_processor", None)
        if self._tokenizer is None or self._image_processor is None:
            raise EncoderError(
                f"the processor of {model_ref!r} ({type(processor).__name__}) lacks a "
                "tokenizer or an image processor",
                hint="save both with processor.save_pretrained(dir), e.g. a CLIPProcessor",
            )
        vocab = len(self._tokenizer)
        if vocab < MIN_VOCAB_SIZE:
            raise EncoderError(
                f"the tokenizer of {model_ref!r} has only {vocab} tokens: its files are "
                "missing or broken",
                hint="make sure the model directory (or hub cache) holds the tokenizer files",
            )
        self._text_kwargs = self._text_padding()
        self._onnx_image: OnnxImageTower | None = None
        revision = resolved.revision or hub.hub_revision(model_ref) or "unknown"
        dim = self._probe_dim(model_ref)
        self.info = EncoderInfo(
            spec=f"{self.backend}:{model_ref}", kind="image-text", revision=revision, dim=dim
        )
        self._onnx_image = self._load_onnx_image(model_ref, revision, mode)
        logger.debug(
            "loaded %s (%s, dim %d, revision %s, images on %s)",
            model_ref,
            self._model_type,
            dim,
            revision,
            self.image_runtime,
        )

    @property
    def image_runtime(self) -> ImageRuntime:
        """Where images are embedded: ``torch`` (eager), ``onnx-fp32`` or ``onnx-int8``."""
        return self._onnx_image.runtime if self._onnx_image is not None else "torch"

    def _load_onnx_image(self, model_ref: str, revision: str, mode: str) -> OnnxImageTower | None:
        from PIL import Image as PILImage

        if mode == "off":
            return None
        probe = self._image_processor(images=[PILImage.new("RGB", (64, 64))], return_tensors="pt")
        extra = sorted(set(probe.keys()) - {"pixel_values"})
        if extra or "pixel_values" not in _parameter_names(self._model.get_image_features):
            logger.info(
                "%s: image tower stays on PyTorch (its processor also returns %s)",
                model_ref,
                extra,
            )
            return None
        source = TowerSource(
            what=f"{self.backend}:{model_ref}",
            name=f"{self._model_type or 'hf'}-image",
            model=self._model,
            tower=_image_tower,
            preprocess=self._pixels,
            identity={
                "revision": revision,
                "class": type(self._model).__name__,
                "model_type": self._model_type,
                "transformers": package_version("transformers"),
            },
        )
        return load_image_tower(source, mode)  # type: ignore[arg-type]

    def _pixels(self, images: list[Image]) -> np.ndarray:
        """The pixel batch eager gets (the same processor call), as float32 numpy."""
        pixels = self._image_processor(images=images, return_tensors="pt")["pixel_values"]
        return np.ascontiguousarray(pixels.numpy(), dtype=np.float32)

    def _probe_dim(self, model_ref: str) -> int:
        """Embed one text and one blank image: both towers must work and agree in width."""
        from PIL import Image as PILImage

        try:
            text_dim = self._text_features(["a photo"]).shape[1]
            image_dim = self._image_features([PILImage.new("RGB", (64, 64))]).shape[1]
        except PolyseekError:
            raise
        except Exception as exc:
            raise EncoderError(
                f"{model_ref!r} loaded but fails on a test input: {type(exc).__name__}: {exc}"
            ) from exc
        if text_dim != image_dim:
            raise EncoderError(
                f"{model_ref!r} embeds texts in {text_dim} and images in {image_dim} dimensions",
                hint="the two towers must share one embedding space",
            )
        return int(text_dim)

    @property
    def model_type(self) -> str:
        return self._model_type

    def _text_padding(self) -> dict[str, Any]:
        text_config = getattr(self._model.config, "text_config", None)
        max_positions = getattr(text_config, "max_position_embeddings", None)
        tokenizer_max = getattr(self._tokenizer, "model_max_length", None)
        limits = [
            int(v)
            for v in (max_positions, tokenizer_max)
            if isinstance(v, int) and 0 < v < 1_000_000
        ]
        max_length = min(limits) if limits else 77
        if self._model_type in PAD_TO_MAX_LENGTH:
            return {"padding": "max_length", "truncation": True, "max_length": max_length}
        return {"padding": True, "truncation": True, "max_length": max_length}

    def _text_features(self, texts: list[str]) -> np.ndarray:
        import torch

        # Whatever the tokenizer returns, as the model cards do: SigLIP's tokenizer returns
        # no attention mask (the model was trained on padded texts without one).
        inputs = self._tokenizer(texts, return_tensors="pt", **self._text_kwargs)
        fn = self._model.get_text_features
        with torch.inference_mode():
            out = fn(**_accepted(fn, inputs))
        return as_float32_rows(_features(out))

    def _image_features(self, images: list[Image]) -> np.ndarray:
        import torch

        if self._onnx_image is not None:
            return self._onnx_image(self._pixels(images))
        # pixel_values, plus e.g. pixel_attention_mask and spatial_shapes for SigLIP 2.
        inputs = self._image_processor(images=images, return_tensors="pt")
        fn = self._model.get_image_features
        with torch.inference_mode():
            out = fn(**_accepted(fn, inputs))
        return as_float32_rows(_features(out))


def _image_tower(model: Any, pixel_values: Any) -> Any:
    """The eager image tower as the ONNX export traces it."""
    return _features(model.get_image_features(pixel_values=pixel_values))


class SiglipEncoder(TransformersImageTextEncoder):
    """:class:`TransformersImageTextEncoder` named ``siglip`` (in specs, hints and logs)."""

    backend = "siglip"


class HfImageTextEncoder(TransformersImageTextEncoder):
    """:class:`TransformersImageTextEncoder` named ``hf`` (in specs, hints and logs)."""

    backend = "hf"
