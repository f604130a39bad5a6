"""The ingest package surface: registry, loader_for, load_file, options, error mapping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import polyseek.ingest as ingest
from polyseek.errors import ConfigError, IngestError
from polyseek.ingest import (
    LOADERS,
    SUPPORTED_EXTENSIONS,
    ImageLoader,
    IngestOptions,
    Loader,
    PdfLoader,
    TextLoader,
    load_file,
    loader_for,
)
from polyseek.ingest._errors import ingest_errors


def test_all_is_importable() -> None:
    for name in ingest.__all__:
        assert hasattr(ingest, name), name


def test_registry() -> None:
    assert LOADERS.names() == ["audio", "image", "pdf", "text", "video"]
    loaders = [LOADERS.resolve(name)(IngestOptions()) for name in LOADERS.names()]
    for loader in loaders:
        assert isinstance(loader, Loader)
    assert frozenset().union(*(loader.extensions for loader in loaders)) == SUPPORTED_EXTENSIONS


def test_unknown_loader_lists_the_names() -> None:
    with pytest.raises(ConfigError, match="audio, image, pdf, text, video"):
        LOADERS.resolve("midi")


def test_loader_for(sample_dir: Path) -> None:
    assert isinstance(loader_for(sample_dir / "images" / "receipt-spare-parts.jpg"), ImageLoader)
    pdf = sample_dir / "pdfs" / "p200-pump-maintenance-manual.pdf"
    assert isinstance(loader_for(pdf), PdfLoader)
    paper = next((sample_dir / "papers").iterdir())
    loader = loader_for(paper, IngestOptions(passage_chars=100, passage_overlap=10))
    assert isinstance(loader, TextLoader) and loader.options.passage_chars == 100
    assert loader_for(Path(__file__)) is None  # .py


def test_load_file_default_source(sample_dir: Path) -> None:
    items = load_file(sample_dir / "pdfs" / "reading-notes-contrastive-learning.pdf")
    assert {item.source for item in items} == {"reading-notes-contrastive-learning.pdf"}


def test_load_file_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(IngestError, match=r"data\.json: unsupported file type '\.json'") as info:
        load_file(path)
    assert info.value.hint is not None and ".pdf" in info.value.hint


def test_load_file_missing(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"gone\.txt: file not found"):
        load_file(tmp_path / "gone.txt")


def test_load_file_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pdf")
    with pytest.raises(IngestError, match=r"pipe\.pdf: not a regular file"):
        load_file(tmp_path / "pipe.pdf")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (IsADirectoryError(21, "Is a directory"), "is a directory"),
        (OSError(5, "Input/output error"), "cannot read file: Input/output error"),
        (MemoryError(), "out of memory"),
        (KeyError("boom"), "unexpected error while reading: KeyError"),
    ],
)
def test_foreign_errors_become_ingest_errors(exc: BaseException, reason: str) -> None:
    with pytest.raises(IngestError, match=reason) as info:
        with ingest_errors(Path("/data/file.txt")):
            raise exc
    assert info.value.path == "/data/file.txt"
    assert info.value.reason.startswith(reason)


def test_polyseek_errors_pass_through() -> None:
    with pytest.raises(ConfigError, match="bad"):
        with ingest_errors("x.txt"):
            raise ConfigError("bad")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"text_item_chars": 0},
        {"passage_chars": 100, "passage_overlap": 100},
        {"max_image_pixels": 0},
        {"image_max_side": -1},
        {"pdf_ocr_dpi": 0},
        {"ocr_lang": ""},
        {"ocr_lang": "eng+"},
        {"passage_chars": 0},
        {"passage_tokens": 0},
        {"passage_chars": 500, "passage_overlap": 500},
        {"pdf_max_pages": 0},
        {"pdf_crop_dpi": 0},
        {"ocr_workers": -1},
        {"ocr_workers": 33},
    ],
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="IngestOptions"):
        IngestOptions(**kwargs)  # type: ignore[arg-type]


def test_options_are_frozen() -> None:
    options = IngestOptions()
    with pytest.raises(AttributeError):
        options.ocr = False  # type: ignore[misc]
