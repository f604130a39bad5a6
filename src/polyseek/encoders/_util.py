"""Small helpers shared by the encoder backends."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from polyseek.encoders.base import Encoder, l2_normalize
from polyseek.errors import ConfigError

if TYPE_CHECKING:
    from PIL.Image import Image

T = TypeVar("T")


def as_texts(texts: Sequence[str]) -> list[str]:
    """Check a batch of texts; a bare string is rejected (it would be embedded per character)."""
    if isinstance(texts, str):
        raise ConfigError(
            "expected a sequence of texts, got a single string",
            hint="wrap it in a list: embed_queries([text])",
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ConfigError(f"text #{i} is {type(text).__name__}, not str")
    return out


def as_rgb_images(images: Sequence[Image]) -> list[Image]:
    """Check a batch of PIL images and convert each to RGB (palette, RGBA, L, CMYK ...)."""
    from PIL import Image as PILImage

    out = []
    for i, image in enumerate(images):
        if not isinstance(image, PILImage.Image):
            raise ConfigError(
                f"image #{i} is {type(image).__name__}, not a PIL image",
                hint="open files with PIL.Image.open(path)",
            )
        out.append(image if image.mode == "RGB" else image.convert("RGB"))
    return out


def empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


def as_float32_rows(x: Any) -> np.ndarray:
    """A 2-D C-contiguous float32 array (from a tensor or an array)."""
    if hasattr(x, "detach"):
        x = x.detach().to("cpu").float().numpy()
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {arr.shape}")
    return arr


class TwoTowerEncoder(Encoder):
    """An image-text encoder (CLIP-like): subclasses embed one batch per tower.

    Batching, input checks and normalisation live here once; text batches are sorted
    by length so each pads little, and rows come back in input order.
    """

    text_batch_size = 64
    image_batch_size = 16

    @abstractmethod
    def _text_features(self, texts: list[str]) -> np.ndarray: ...

    @abstractmethod
    def _image_features(self, images: list[Image]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        batch = as_texts(texts)
        if not batch:
            return empty(self.info.dim)
        order = sorted(range(len(batch)), key=lambda i: len(batch[i]))
        out = np.empty((len(batch), self.info.dim), dtype=np.float32)
        for start in range(0, len(order), self.text_batch_size):
            idx = order[start : start + self.text_batch_size]
            out[idx] = self._text_features([batch[i] for i in idx])
        return l2_normalize(out)

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        rgb = as_rgb_images(images)
        if not rgb:
            return empty(self.info.dim)
        parts = [
            self._image_features(rgb[start : start + self.image_batch_size])
            for start in range(0, len(rgb), self.image_batch_size)
        ]
        return l2_normalize(np.concatenate(parts, axis=0))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Item texts through the text tower (two-tower models treat both sides alike), so
        an image query can reach text items too."""
        return self.embed_queries(texts)
