"""One vector per item from several pictures (a video moment's keyframes).

``mean``: the normalised mean of the keyframe embeddings (the default: a moment matches
what it shows most of the time); ``first``: the first keyframe only (cheapest); ``max``
(max-sim): every keyframe is stored as its own vector row under the moment's item id, and
search scores the moment by its best keyframe (:func:`embed_item_keyframes` here,
:func:`polyseek.search.multivector.top_unique` in the store).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from polyseek.encoders.base import Encoder, l2_normalize
from polyseek.errors import ConfigError

if TYPE_CHECKING:
    from PIL.Image import Image

    from polyseek.types import Item

POOLINGS = ("mean", "first")
"""Poolings that give one vector per item (``max`` gives one per keyframe instead)."""


def pool(vectors: np.ndarray, how: str = "mean") -> np.ndarray:
    """Pool rows of ``vectors`` (n x d, normalised) into one normalised d-vector."""
    if how not in POOLINGS:
        raise ConfigError(f"unknown keyframe pooling {how!r}", hint=f"valid: {', '.join(POOLINGS)}")
    if len(vectors) == 0:
        raise ConfigError("nothing to pool: no vectors")
    chosen = vectors[:1] if how == "first" else vectors
    return l2_normalize(chosen.mean(axis=0, keepdims=True).astype(np.float32))[0]


def embed_pictures(enc: Encoder, pictures: Sequence[Image], how: str = "mean") -> np.ndarray:
    """Embed several pictures of one thing and pool them into one vector."""
    pictures = list(pictures[:1] if how == "first" else pictures)
    return pool(enc.embed_images(pictures), how)


def embed_item_images(enc: Encoder, items: Sequence[Item], how: str = "mean") -> np.ndarray:
    """Image vectors of ``items`` (each has ``image``); items with keyframes are pooled.

    All pictures go through the encoder in one batch call.
    """
    flat: list[Image] = []
    owners: list[int] = []
    for i, item in enumerate(items):
        pictures = list(item.keyframes) or ([item.image] if item.image is not None else [])
        if not pictures:
            raise ConfigError(f"item {item.id} of {item.source} has no picture to embed")
        if how == "first":
            pictures = pictures[:1]
        flat.extend(pictures)
        owners.extend([i] * len(pictures))
    vectors = enc.embed_images(flat)
    out = np.zeros((len(items), vectors.shape[1]), np.float32)
    owner = np.asarray(owners)
    for i in range(len(items)):
        out[i] = pool(vectors[owner == i], how)
    return out


def embed_item_keyframes(enc: Encoder, items: Sequence[Item]) -> tuple[list[str], np.ndarray]:
    """Max-sim rows: one vector per keyframe, each under its item's id (in item order).

    An item without keyframes contributes one row (its ``image``). All pictures go
    through the encoder in one batch call.
    """
    flat: list[Image] = []
    ids: list[str] = []
    for item in items:
        pictures = list(item.keyframes) or ([item.image] if item.image is not None else [])
        if not pictures:
            raise ConfigError(f"item {item.id} of {item.source} has no picture to embed")
        flat.extend(pictures)
        ids.extend([item.id] * len(pictures))
    return ids, enc.embed_images(flat)
