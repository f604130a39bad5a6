"""Keyframe pooling: one vector per moment from several pictures (tiny random CLIP)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import load_encoder
from polyseek.encoders.pooling import embed_item_images, pool
from polyseek.errors import ConfigError
from polyseek.types import Item, Locator
from tests.helpers.tiny_models import make_tiny_clip, sample_images


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_encoder(f"clip:{make_tiny_clip(tmp_path_factory.mktemp('clip'))}")


def test_mean_and_first_pooling(clip) -> None:  # type: ignore[no-untyped-def]
    pictures = [im.convert("RGB") for im in sample_images(4)]
    each = clip.embed_images(pictures)
    moment = Item("v.mp4", "video", Locator(start_s=0, end_s=4), image=pictures[0])
    moment.keyframes = pictures[:3]
    still = Item("p.png", "image", image=pictures[3])
    mean = embed_item_images(clip, [moment, still], "mean")
    expected = each[:3].mean(axis=0)
    np.testing.assert_allclose(mean[0], expected / np.linalg.norm(expected), atol=1e-5)
    np.testing.assert_allclose(mean[1], each[3], atol=1e-5)  # one picture: unchanged
    first = embed_item_images(clip, [moment], "first")
    np.testing.assert_allclose(first[0], each[0], atol=1e-5)
    assert np.allclose(np.linalg.norm(mean, axis=1), 1.0, atol=1e-5)


def test_pool_rejects_unknown_methods_and_empty_input() -> None:
    with pytest.raises(ConfigError, match="mean, first"):
        pool(np.ones((2, 3), np.float32), "max-sim")
    with pytest.raises(ConfigError, match="nothing to pool"):
        pool(np.zeros((0, 3), np.float32))


def test_indexing_pools_keyframes(clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from polyseek.encoders.items import embed_items

    pictures = [im.convert("RGB") for im in sample_images(3)]
    moment = Item("v.mp4", "video", Locator(start_s=0, end_s=4), image=pictures[0])
    moment.keyframes = pictures
    ids, vectors = embed_items(clip, [moment], "mean")
    assert ids == [moment.id]
    np.testing.assert_allclose(vectors, embed_item_images(clip, [moment], "mean"), atol=1e-6)
