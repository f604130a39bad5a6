"""Image files: one item per file, with pixels for image encoders and OCR text."""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from polyseek.errors import IngestError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest.base import LOADERS, BaseLoader
from polyseek.ingest.detect import IMAGE_EXTENSIONS
from polyseek.ingest.ocr import fit_for_ocr, get_ocr_engine
from polyseek.ingest.options import DEFAULT_OPTIONS
from polyseek.types import Item

logger = logging.getLogger(__name__)

_OPEN_LOCK = threading.Lock()

# Errors Pillow raises for broken files: truncated data, bad chunks, bad compression.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, zlib.error)

_EXIF_TAGS = {
    ExifTags.Base.ImageDescription: "ImageDescription",
    ExifTags.Base.Make: "Make",
    ExifTags.Base.Model: "Model",
    ExifTags.Base.Orientation: "Orientation",
    ExifTags.Base.Software: "Software",
    ExifTags.Base.DateTime: "DateTime",
    ExifTags.Base.Artist: "Artist",
}
_EXIF_IFD_TAGS = {
    ExifTags.Base.DateTimeOriginal: "DateTimeOriginal",
}


def _json_value(value: Any) -> Any:
    """A JSON-serialisable form of an EXIF value, or ``None`` to drop it."""
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        value = value.strip("\x00 ").strip()
        return value or None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        items = [_json_value(v) for v in value]
        return None if any(v is None for v in items) else items
    try:  # IFDRational and other numbers
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _gps_degrees(dms: Any, ref: Any) -> float | None:
    values = _json_value(dms)
    if not isinstance(values, list) or len(values) != 3:
        return None
    degrees = float(values[0]) + float(values[1]) / 60 + float(values[2]) / 3600
    return round(-degrees if ref in ("S", "W") else degrees, 7)


def exif_metadata(img: Image.Image) -> dict[str, Any]:
    """Selected EXIF fields of ``img`` as JSON-serialisable values (missing ones left out)."""
    try:
        exif = img.getexif()
    except _DECODE_ERRORS as exc:  # malformed EXIF must not lose the image
        logger.debug("unreadable EXIF: %s", exc)
        return {}
    out: dict[str, Any] = {}
    for tag, name in _EXIF_TAGS.items():
        value = _json_value(exif.get(tag))
        if value is not None:
            out[name] = value
    try:
        exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except _DECODE_ERRORS as exc:
        logger.debug("unreadable EXIF sub-IFD: %s", exc)
        return out
    for tag, name in _EXIF_IFD_TAGS.items():
        value = _json_value(exif_ifd.get(tag))
        if value is not None:
            out[name] = value
    if gps:
        lat = _gps_degrees(gps.get(ExifTags.GPS.GPSLatitude), _json_value(gps.get(1)))
        lon = _gps_degrees(gps.get(ExifTags.GPS.GPSLongitude), _json_value(gps.get(3)))
        if lat is not None and lon is not None:
            out["GPSLatitude"] = lat
            out["GPSLongitude"] = lon
        altitude = _json_value(gps.get(ExifTags.GPS.GPSAltitude))
        if isinstance(altitude, float | int):
            out["GPSAltitude"] = altitude
    return out


def to_rgb(img: Image.Image) -> Image.Image:
    """An RGB copy for encoders: transparency over white, 16-bit and float modes rescaled."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(img, dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        scaled = (values - lo) * (255.0 / ((hi - lo) or 1.0))
        img = Image.fromarray(np.rint(scaled).astype(np.uint8))
    if img.mode == "P" or img.mode in ("LA", "PA", "La") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return background
    return img.convert("RGB")


def upright_rgb(img: Image.Image) -> Image.Image:
    """``img`` as displayed (EXIF orientation applied), in RGB (:func:`to_rgb`)."""
    return to_rgb(ImageOps.exif_transpose(img) or img)


def fit_side(img: Image.Image, max_side: int) -> Image.Image:
    """``img``, or a copy scaled down (LANCZOS) so that its longest side is ``max_side``."""
    if max(img.size) <= max_side:
        return img
    small = img.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return small


def encoder_picture(img: Image.Image, max_side: int | None = None) -> Image.Image:
    """The picture an image encoder gets for ``img``: upright, RGB, at most ``max_side``
    (default ``IngestOptions.image_max_side``).

    The image loader makes ``Item.image`` this way and query images go through it too, so
    a file given as a query is embedded exactly as it was indexed: the same orientation,
    transparency over the same white, the same downscaling before the encoder's own resize
    (without it the query of an indexed 1100 px picture was another picture to the model).
    """
    side = max_side if max_side is not None else DEFAULT_OPTIONS.image_max_side
    return fit_side(upright_rgb(img), side)


@LOADERS.register("image")
class ImageLoader(BaseLoader):
    """One ``Item(modality="image")`` per file: RGB pixels (downscaled), metadata, OCR text.

    Refuses images above ``IngestOptions.max_image_pixels`` before decoding them
    (decompression bombs); reports truncated or corrupt files as :class:`IngestError`.
    Animated images contribute their first frame. EXIF orientation is applied.
    """

    name = "image"
    extensions = IMAGE_EXTENSIONS

    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        with ingest_errors(path):
            item = self._load(path, source)
        yield item

    def _open(self, path: Path) -> Image.Image:
        name = str(path)
        limit = self.options.max_image_pixels
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that; our own
        # limit (checked below, before any pixel is decoded) replaces the warning.
        # catch_warnings() swaps process-wide state: the lock keeps loader threads from
        # undoing each other's filter (opening reads only the header: it is quick).
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                img = Image.open(path)
            except Image.DecompressionBombError as exc:
                raise _bomb_error(name, exc, limit) from None
            except UnidentifiedImageError:
                raise IngestError(
                    name, "not a readable image: unknown format, or a corrupt or truncated header"
                ) from None
            except _DECODE_ERRORS as exc:
                raise IngestError(name, _decode_reason(exc)) from None
        pixels = img.width * img.height
        if pixels > limit:
            img.close()
            raise _too_large(name, pixels, limit)
        return img

    def _load(self, path: Path, source: str) -> Item:
        name = str(path)
        opts = self.options
        with self._open(path) as img:
            try:
                metadata = _describe(img)
                # JPEG decodes at 1/2, 1/4, 1/8 scale: much faster and lighter for photos.
                wanted = max(opts.image_max_side, opts.ocr_max_side if opts.ocr else 0)
                if img.format == "JPEG" and max(img.size) > 2 * wanted:
                    scale = wanted / max(img.size)
                    img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
                img.load()
                rgb = upright_rgb(img)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                # Frames of animated images are checked by Pillow while seeking.
                raise _bomb_error(name, exc, opts.max_image_pixels) from None
            except _DECODE_ERRORS as exc:
                raise IngestError(name, _decode_reason(exc)) from None
        if metadata.get("Orientation") in (5, 6, 7, 8):  # turned by a quarter: as displayed
            metadata["width"], metadata["height"] = metadata["height"], metadata["width"]
        text = ""
        if opts.ocr:
            ocr_input = fit_for_ocr(rgb.convert("L"), opts.ocr_min_side, opts.ocr_max_side)
            read = get_ocr_engine(opts.ocr_lang).read(ocr_input)
            text = read.text
            if text:
                metadata.update(read.metadata())
        metadata["ocr"] = opts.ocr
        preview = fit_side(rgb, opts.image_max_side)  # = encoder_picture(img, image_max_side)
        return Item(source=source, modality="image", text=text, image=preview, metadata=metadata)


def _describe(img: Image.Image) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "width": img.width,
        "height": img.height,
        "format": img.format,
        "mode": img.mode,
    }
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        metadata["frames"] = frames
    metadata.update(exif_metadata(img))
    return metadata


def _too_large(name: str, pixels: int, limit: int, *, pillow: bool = False) -> IngestError:
    what = "Pillow's limit" if pillow else "limit"
    hint = (
        "raise PIL.Image.MAX_IMAGE_PIXELS (Pillow refuses twice that) if the image is genuine"
        if pillow
        else "raise IngestOptions.max_image_pixels if the image is genuine"
    )
    return IngestError(
        name,
        f"image too large ({pixels} pixels > {what} {limit}): possible decompression bomb",
        hint=hint,
    )


def _bomb_error(name: str, exc: Exception, limit: int) -> IngestError:
    """Pillow refused the image on its own (above twice ``Image.MAX_IMAGE_PIXELS``)."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    if m is None:
        return IngestError(name, f"image too large: possible decompression bomb ({exc})")
    pixels = int(m.group(1))
    if pixels > limit:
        return _too_large(name, pixels, limit)
    pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return _too_large(name, pixels, pillow_limit, pillow=True)


def _decode_reason(exc: BaseException) -> str:
    message = str(exc) or type(exc).__name__
    if "truncated" in message.lower() or isinstance(exc, EOFError):
        return f"truncated image: {message}"
    return f"corrupt image: {message}"
