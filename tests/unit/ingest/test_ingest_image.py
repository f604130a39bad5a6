"""ImageLoader: OCR of the sample images, metadata, EXIF, and bad or hostile images."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from polyseek.errors import IngestError
from polyseek.ingest import ImageLoader, IngestOptions, load_file
from polyseek.types import Item
from tests.helpers.ingest_files import bomb_png, jpeg_bytes, photo, png_bytes

# Words each sample image shows; OCR must find most of them (case-insensitive).
EXPECTED_WORDS = {
    "pump-housing-exploded-view.png": "pump housing exploded view volute impeller seal bolts shaft",
    "receipt-spare-parts.jpg": "harbor hardware supply filter housing bolt seal subtotal total",
    "pump-room-sign.jpg": "caution pump room hearing protection required authorised personnel",
    "slide-contrastive-pretraining.png": "contrastive pretraining embeddings zero-shot modality",
    "filter-cartridge-label.webp": "intake filter cartridge centrifugal pumps operating hours",
}


def words(text: str) -> set[str]:
    return {w.strip(".,:;()!?").lower() for w in text.split()}


@pytest.fixture(scope="module")
def sample_items(sample_dir: Path) -> dict[str, Item]:
    loader = ImageLoader()
    items = {}
    for path in sorted((sample_dir / "images").iterdir()):
        (items[path.name],) = loader.load(path, f"images/{path.name}")
    return items


@pytest.mark.parametrize("name", sorted(EXPECTED_WORDS))
def test_ocr_finds_the_visible_words(sample_items: dict[str, Item], name: str) -> None:
    expected = set(EXPECTED_WORDS[name].split())
    found = expected & words(sample_items[name].text)
    assert len(found) >= 0.8 * len(expected), f"missing {expected - found} in {name}"
    assert sample_items[name].metadata["ocr"] is True


def test_image_without_text_has_no_text(sample_items: dict[str, Item]) -> None:
    text = sample_items["colour-gradient-shapes.png"].text
    assert not [w for w in text.split() if len(w) >= 3 and w.isalpha()], text


def test_items_are_rgb_and_bounded(sample_items: dict[str, Item]) -> None:
    for name, item in sample_items.items():
        assert item.modality == "image"
        assert item.source == f"images/{name}"
        assert item.image is not None and item.image.mode == "RGB"
        assert max(item.image.size) <= 1024
        json.dumps(item.metadata)  # JSON-serialisable
        for key in ("width", "height", "format", "mode"):
            assert key in item.metadata
    exploded = sample_items["pump-housing-exploded-view.png"]
    assert (exploded.metadata["width"], exploded.metadata["height"]) == (1100, 760)
    assert exploded.image is not None
    assert exploded.image.width == 1024 and abs(exploded.image.height - 708) <= 1


def test_exif_fields(sample_items: dict[str, Item]) -> None:
    meta = sample_items["receipt-spare-parts.jpg"].metadata
    assert meta["format"] == "JPEG"
    assert meta["Make"] == "Polyseek Camera Co."
    assert meta["Model"] == "PS-1"
    assert meta["DateTime"] == "2024:03:12 14:07:33"
    assert meta["ImageDescription"] == "Receipt for pump spare parts"
    assert meta["GPSLatitude"] == pytest.approx(50.79867, abs=1e-4)
    assert meta["GPSLongitude"] == pytest.approx(-1.09550, abs=1e-4)


def test_exif_orientation_is_applied(sample_items: dict[str, Item]) -> None:
    item = sample_items["pump-room-sign.jpg"]
    assert item.metadata["Orientation"] == 6
    # Stored 620 x 900 (portrait); shown and read as the 900 x 620 sign it is.
    assert (item.metadata["width"], item.metadata["height"]) == (900, 620)
    assert item.image is not None and item.image.size == (900, 620)


def test_ocr_can_be_disabled(sample_dir: Path) -> None:
    path = sample_dir / "images" / "pump-housing-exploded-view.png"
    (item,) = ImageLoader(IngestOptions(ocr=False)).load(path, "x.png")
    assert item.text == ""
    assert item.metadata["ocr"] is False
    assert item.image is not None


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    (item,) = ImageLoader(IngestOptions(ocr=False)).load(path, "anim.gif")
    assert item.metadata["frames"] == 3
    assert item.metadata["format"] == "GIF"
    assert item.image is not None and item.image.getpixel((5, 5)) == (255, 0, 0)


def test_transparency_goes_over_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    path = tmp_path / "alpha.png"
    img.save(path)
    (item,) = ImageLoader(IngestOptions(ocr=False)).load(path, "alpha.png")
    assert item.image is not None
    assert item.image.getpixel((5, 5)) == (255, 255, 255)
    assert item.image.getpixel((0, 0)) == (255, 0, 0)
    assert item.metadata["mode"] == "RGBA"


def test_16_bit_greyscale(tmp_path: Path) -> None:
    img = Image.new("I;16", (64, 8))
    for x in range(64):
        for y in range(8):
            img.putpixel((x, y), x * 1000)
    path = tmp_path / "deep.png"
    img.save(path)
    (item,) = ImageLoader(IngestOptions(ocr=False)).load(path, "deep.png")
    assert item.image is not None and item.image.mode == "RGB"
    assert item.image.getpixel((0, 0)) == (0, 0, 0)
    assert item.image.getpixel((63, 0)) == (255, 255, 255)


def test_large_jpeg_is_decoded_small(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(photo((6000, 4000)), quality=50))
    options = IngestOptions(ocr=False)
    (item,) = ImageLoader(options).load(path, "big.jpg")
    assert (item.metadata["width"], item.metadata["height"]) == (6000, 4000)
    assert item.image is not None
    assert item.image.width == 1024 and abs(item.image.height - 683) <= 1


def test_truncated_png(tmp_path: Path) -> None:
    data = png_bytes(photo())
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"cut\.png: truncated image"):
        load_file(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(photo())
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"cut\.jpg: truncated image"):
        load_file(path)


def test_header_only_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "stub.jpg"
    path.write_bytes(jpeg_bytes(photo())[:200])
    with pytest.raises(IngestError, match=r"stub\.jpg: truncated image"):
        load_file(path)


def test_garbage_after_png_signature(tmp_path: Path) -> None:
    path = tmp_path / "junk.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(IngestError, match=r"junk\.png: not a readable image"):
        load_file(path)


def test_pdf_named_png(tmp_path: Path, sample_dir: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes((sample_dir / "pdfs" / "p200-pump-maintenance-manual.pdf").read_bytes())
    with pytest.raises(
        IngestError, match=r"photo\.png: extension \.png but content looks like PDF"
    ):
        load_file(path)


def test_decompression_bomb_is_refused_before_decoding(bomb_file: Path) -> None:
    assert bomb_file.stat().st_size < 100_000
    started = time.perf_counter()
    with pytest.raises(
        IngestError,
        match=r"bomb\.png: image too large \(400000000 pixels > limit 100000000\): "
        r"possible decompression bomb",
    ):
        load_file(bomb_file)
    # Decoding 400 megapixels would take seconds and 400 MB; refusing takes milliseconds.
    assert time.perf_counter() - started < 1.0


def test_bomb_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(png_bytes(Image.new("L", (2000, 1000))))
    options = IngestOptions(ocr=False, max_image_pixels=1_000_000)
    with pytest.raises(IngestError, match=r"wide\.png: image too large \(2000000 pixels > limit"):
        ImageLoader(options).load(path, "wide.png")
    assert ImageLoader(IngestOptions(ocr=False)).load(path, "wide.png")


def test_pillow_hard_limit_is_reported_too(bomb_file: Path) -> None:
    # Above twice Image.MAX_IMAGE_PIXELS Pillow refuses by itself; still an IngestError.
    options = IngestOptions(ocr=False, max_image_pixels=10**12)
    with pytest.raises(
        IngestError, match=r"bomb\.png: image too large \(400000000 pixels > Pillow"
    ):
        ImageLoader(options).load(bomb_file, "bomb.png")


def test_bomb_between_pillows_warning_and_error(tmp_path: Path) -> None:
    # 144 megapixels: Pillow only warns (an error under pytest's filterwarnings=error);
    # the loader's own limit refuses it with the same clear reason.
    path = tmp_path / "warn.png"
    path.write_bytes(bomb_png(12_000, 12_000))
    with pytest.raises(IngestError, match=r"warn\.png: image too large \(144000000 pixels > limit"):
        load_file(path)
