"""The one place that decides what kind of source a file is.

Nobody else guesses from file extensions: the indexer asks :func:`detect_kind`, which
looks at the extension first and then checks the first bytes of the file, so that a
PDF named ``.png`` or a text file named ``.jpg`` is reported instead of crashing a
decoder later on.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Literal, get_args

from polyseek.errors import IngestError

logger = logging.getLogger(__name__)

Kind = Literal["text", "image", "pdf", "video", "audio"]
"""A source kind; each has one loader registered under the same name."""

KINDS: tuple[Kind, ...] = get_args(Kind)

TEXT_EXTENSIONS = frozenset({".txt", ".md", ".html", ".htm"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
PDF_EXTENSIONS = frozenset({".pdf"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a"})

EXTENSION_KINDS: dict[str, Kind] = {
    **dict.fromkeys(TEXT_EXTENSIONS, "text"),
    **dict.fromkeys(IMAGE_EXTENSIONS, "image"),
    **dict.fromkeys(PDF_EXTENSIONS, "pdf"),
    **dict.fromkeys(VIDEO_EXTENSIONS, "video"),
    **dict.fromkeys(AUDIO_EXTENSIONS, "audio"),
}
# Media containers are shared (an .mp4 may hold only sound, an .m4a is an MP4): within these
# kinds the extension decides, the content only has to be some media container.
_MEDIA_KINDS = ("video", "audio")
SUPPORTED_EXTENSIONS = frozenset(EXTENSION_KINDS)

# A PDF header may follow some leading junk; readers look in the first 1 KiB too.
# One read of 1 KiB costs the same as one read of 16 bytes.
_HEAD_BYTES = 1024

# (prefix, label, kind); the label names the format in error messages.
_MAGIC: tuple[tuple[bytes, str, Kind], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image", "image"),
    (b"\xff\xd8\xff", "JPEG image", "image"),
    (b"GIF87a", "GIF image", "image"),
    (b"GIF89a", "GIF image", "image"),
    (b"II*\x00", "TIFF image", "image"),
    (b"MM\x00*", "TIFF image", "image"),
    (b"II+\x00", "TIFF image", "image"),  # BigTIFF
    (b"MM\x00+", "TIFF image", "image"),
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM media", "video"),
    (b"OggS", "Ogg media", "audio"),
    (b"ID3", "MP3 audio", "audio"),
    (b"fLaC", "FLAC audio", "audio"),
)
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "ZIP archive (e.g. DOCX, XLSX, EPUB)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"\x7fELF", "executable (ELF)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document (OLE)"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"fLaC", "FLAC audio"),
)


_BMP_DIB_SIZES = frozenset(n.to_bytes(4, "little") for n in (12, 16, 40, 52, 56, 64, 108, 124))


def _sniff(head: bytes) -> tuple[str, Kind | None]:
    """Name the format of ``head`` and the kind of source it is (``None``: not ours)."""
    for prefix, label, kind in _MAGIC:
        if head.startswith(prefix):
            return label, kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP image", "image"
    # 'BM' alone would match text starting with "BM"; also check the DIB header size.
    if head.startswith(b"BM") and head[14:18] in _BMP_DIB_SIZES:
        return "BMP image", "image"
    if head.lstrip(b"\x00\t\r\n\x0c ").startswith(b"%PDF-"):
        return "PDF", "pdf"
    for prefix, label in _OTHER_MAGIC:
        if head.startswith(prefix):
            return label, None
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "WAV audio", "audio"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI video", "video"
    if head.startswith(b"RIFF"):
        return "RIFF media (e.g. WAV, AVI)", None
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return "MP4/QuickTime media", "video"
    if b"\x00" in head:
        return "binary data", None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "HTML", "text"
    return "text", "text"


def _read_head(path: Path) -> bytes:
    """Read the first bytes of a regular file; IngestError for anything else."""
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise IngestError(name, "file not found (or a broken symbolic link)") from None
    except PermissionError:
        raise IngestError(name, "permission denied") from None
    except OSError as exc:
        raise IngestError(name, f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(name, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO would block until a writer appears; devices may never end.
        kind = "named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "special file"
        raise IngestError(name, f"not a regular file: {kind}")
    if st.st_size == 0:
        raise IngestError(name, "empty file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except PermissionError:
        raise IngestError(name, "permission denied") from None
    except OSError as exc:
        raise IngestError(name, f"cannot read file: {exc.strerror or exc}") from None
    if not head:
        raise IngestError(name, "empty file")
    return head


def detect_kind(path: str | os.PathLike[str]) -> Kind | None:
    """Infer the kind of source ``path`` is from its extension and its first bytes.

    Returns ``None`` for an unsupported extension (``.py``, ``.json``: the indexer skips
    those silently, without reading them). For a supported extension, reads the first
    bytes and raises :class:`IngestError` when the file is empty, unreadable, not a
    regular file, or when its content contradicts its extension (``extension .png but
    content looks like PDF``). An image saved under another image extension (a PNG
    named ``.jpg``) is accepted: decoders go by content.
    """
    path = Path(path)
    ext = path.suffix.lower()
    expected = EXTENSION_KINDS.get(ext)
    if expected is None:
        return None
    head = _read_head(path)
    label, actual = _sniff(head)
    if expected == "pdf" and actual != "pdf" and b"%PDF-" in head:
        actual = "pdf"  # readers accept junk before the header (e.g. mail or HTTP remnants)
    if actual == expected:
        if expected == "image" and not label.lower().startswith(_EXT_FORMAT[ext]):
            logger.debug(
                "%s: extension %s but content is %s; decoding by content", path, ext, label
            )
        return expected
    if expected in _MEDIA_KINDS and actual in _MEDIA_KINDS:
        return expected
    if expected == "audio" and len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return expected  # an MPEG audio frame (an MP3 without ID3 tag); too short to sniff alone
    if expected == "text" and label == "binary data":
        # The text loader reports binary content with a precise reason (NUL byte offset),
        # and decodes UTF-16 files (which contain NUL bytes) when they carry a BOM.
        return expected
    if expected == "image" and actual in ("text", None):
        what = "text" if label == "text" else label
        reason = f"extension {ext} but content is not a recognised image format (looks like {what})"
    elif expected == "pdf" and actual in ("text", None):
        reason = f"extension {ext} but content is not a PDF (no %PDF- header; looks like {label})"
    else:
        reason = f"extension {ext} but content looks like {label}"
    raise IngestError(str(path), reason)


_EXT_FORMAT = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".gif": "gif",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
}

__all__ = [
    "EXTENSION_KINDS",
    "IMAGE_EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "KINDS",
    "Kind",
    "PDF_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "TEXT_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "detect_kind",
]
