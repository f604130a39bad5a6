"""detect_kind: the extension says what a file should be, the first bytes must agree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from polyseek.errors import IngestError
from polyseek.ingest import SUPPORTED_EXTENSIONS, detect_kind
from tests.helpers.ingest_files import jpeg_bytes, photo, png_bytes, text_pdf


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def image_bytes(fmt: str) -> bytes:
    import io

    buf = io.BytesIO()
    photo((16, 16)).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.png", "PNG"),
        ("a.jpg", "JPEG"),
        ("a.JPEG", "JPEG"),
        ("a.gif", "GIF"),
        ("a.webp", "WEBP"),
        ("a.bmp", "BMP"),
        ("a.tif", "TIFF"),
        ("a.tiff", "TIFF"),
    ],
)
def test_images_by_extension_and_content(tmp_path: Path, name: str, fmt: str) -> None:
    assert detect_kind(write(tmp_path, name, image_bytes(fmt))) == "image"


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html", "a.htm", "a.TXT"])
def test_text(tmp_path: Path, name: str) -> None:
    assert detect_kind(write(tmp_path, name, b"BMW and BM-style text is text.\n")) == "text"


def test_pdf(tmp_path: Path) -> None:
    assert detect_kind(write(tmp_path, "a.pdf", text_pdf(["hello"]))) == "pdf"


def test_supported_extensions() -> None:
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg"} <= SUPPORTED_EXTENSIONS
    assert {".gif", ".webp", ".bmp", ".tif", ".tiff"} <= SUPPORTED_EXTENSIONS
    assert all(ext == ext.lower() and ext.startswith(".") for ext in SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize("name", ["script.py", "data.json", "Makefile", "archive.zip"])
def test_unsupported_extension_is_none_without_reading(tmp_path: Path, name: str) -> None:
    # A FIFO would block a reader forever: None proves the file was never opened.
    path = tmp_path / name
    os.mkfifo(path)
    assert detect_kind(path) is None


def test_image_under_another_image_extension_is_accepted(tmp_path: Path) -> None:
    # Decoders go by content: a PNG saved as .jpg is common and harmless.
    assert detect_kind(write(tmp_path, "really-png.jpg", png_bytes(photo()))) == "image"


def test_pdf_named_png(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.png", text_pdf(["hello"]))
    with pytest.raises(IngestError, match=r"scan\.png: extension \.png but content looks like PDF"):
        detect_kind(path)


def test_text_named_jpg(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.jpg", b"just some notes\n")
    with pytest.raises(IngestError, match=r"notes\.jpg: extension \.jpg but content is not a "):
        detect_kind(path)


def test_png_named_pdf(tmp_path: Path) -> None:
    path = write(tmp_path, "manual.pdf", png_bytes(photo()))
    with pytest.raises(
        IngestError, match=r"manual\.pdf: extension \.pdf but content looks like PNG"
    ):
        detect_kind(path)


def test_text_named_pdf(tmp_path: Path) -> None:
    path = write(tmp_path, "manual.pdf", b"not a pdf at all")
    with pytest.raises(IngestError, match=r"manual\.pdf: .*not a PDF \(no %PDF- header"):
        detect_kind(path)


def test_jpeg_named_txt(tmp_path: Path) -> None:
    path = write(tmp_path, "readme.txt", jpeg_bytes(photo()))
    with pytest.raises(
        IngestError, match=r"readme\.txt: extension \.txt but content looks like JPEG"
    ):
        detect_kind(path)


def test_zip_named_txt(tmp_path: Path) -> None:
    path = write(tmp_path, "doc.txt", b"PK\x03\x04" + bytes(30))
    with pytest.raises(IngestError, match=r"doc\.txt: .*ZIP archive"):
        detect_kind(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"empty\.png: empty file"):
        detect_kind(write(tmp_path, "empty.png", b""))


def test_directory_named_like_a_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").mkdir()
    with pytest.raises(IngestError, match=r"x\.txt: is a directory"):
        detect_kind(tmp_path / "x.txt")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(IngestError, match=r"pipe\.txt: not a regular file: named pipe"):
        detect_kind(tmp_path / "pipe.txt")


def test_symlink_loop_is_unreadable(tmp_path: Path) -> None:
    # Unreadable even for root: resolving the name never ends (ELOOP).
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    with pytest.raises(IngestError, match=r"loop\.txt: cannot read file: .*symbolic links"):
        detect_kind(tmp_path / "loop.txt")


def test_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "gone.pdf").symlink_to(tmp_path / "missing.pdf")
    with pytest.raises(IngestError, match=r"gone\.pdf: file not found"):
        detect_kind(tmp_path / "gone.pdf")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", b"secret")
    path.chmod(0)
    try:
        with pytest.raises(IngestError, match=r"secret\.txt: permission denied"):
            detect_kind(path)
    finally:
        path.chmod(0o644)


def test_bmp_needs_a_real_header(tmp_path: Path) -> None:
    img = Image.new("RGB", (4, 4))
    path = tmp_path / "a.bmp"
    img.save(path)
    assert detect_kind(path) == "image"
    with pytest.raises(IngestError, match="not a recognised image"):
        detect_kind(write(tmp_path, "b.bmp", b"BM is not enough"))


def test_text_mentioning_the_pdf_header_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "pdf-notes.md", b"# Notes\n\nA PDF starts with %PDF-1.7 then objects.\n")
    assert detect_kind(path) == "text"


def test_pdf_after_leading_junk(tmp_path: Path) -> None:
    path = write(tmp_path, "mail.pdf", b"Content-Type: application/pdf\r\n\r\n" + text_pdf(["x"]))
    assert detect_kind(path) == "pdf"
