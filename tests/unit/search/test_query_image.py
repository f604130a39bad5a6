"""A query image is prepared exactly as the image loader prepared the indexed one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyseek.ingest import ImageLoader, IngestOptions
from polyseek.search.embedder import open_query_image

# Above image_max_side (1024) in palette mode; EXIF orientation 6; a plain small JPEG.
SAMPLES = ["pump-housing-exploded-view.png", "pump-room-sign.jpg", "receipt-spare-parts.jpg"]


def indexed_picture(path: Path) -> Image.Image:
    (item,) = ImageLoader(IngestOptions(ocr=False)).load(path, path.name)
    assert item.image is not None
    return item.image


@pytest.mark.parametrize("name", SAMPLES)
def test_an_indexed_file_as_query_is_the_picture_that_was_embedded(
    sample_dir: Path, name: str
) -> None:
    path = sample_dir / "images" / name
    expected = np.asarray(indexed_picture(path))
    assert np.array_equal(np.asarray(open_query_image(path)), expected)
    with Image.open(path) as img:  # an uploaded image arrives decoded (the REST API)
        img.load()
        assert np.array_equal(np.asarray(open_query_image(img)), expected)


def test_transparency_is_laid_over_white_as_at_ingest(tmp_path: Path) -> None:
    img = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    img.paste((200, 30, 30, 255), (10, 10, 20, 20))
    path = tmp_path / "cut-out.png"
    img.save(path)
    query = np.asarray(open_query_image(path))
    assert np.array_equal(query, np.asarray(indexed_picture(path)))
    assert tuple(query[0, 0]) == (255, 255, 255)
