"""Options shared by the loaders: one frozen dataclass with defaults that work offline."""

from __future__ import annotations

from dataclasses import dataclass, fields

from polyseek.errors import ConfigError


@dataclass(frozen=True)
class IngestOptions:
    """How source files are cut into items. The defaults suit all-MiniLM-L6-v2 and a laptop."""

    ocr: bool = True
    """Run OCR on images and on PDF pages without a text layer."""
    ocr_lang: str = "eng"
    """Tesseract language(s), e.g. ``"eng"`` or ``"eng+deu"``; needs the traineddata files."""
    text_item_chars: int = 4000
    """Longest section of a text file, in characters: the unit BM25 scores and a result
    names. Each section is embedded passage by passage (``passage_*`` below)."""
    max_text_bytes: int = 64 * 2**20
    """Larger text files are refused (a log or a dump, not a document)."""
    max_chunks: int = 5000
    """At most this many sections of one text file (20 M characters at 4,000 each) are
    indexed; the rest is left out and the index run reports it (a dump, a log)."""
    max_image_pixels: int = 100_000_000
    """Larger images are refused as possible decompression bombs."""
    image_max_side: int = 1024
    """Longest side of ``Item.image`` (for image encoders and previews); bounds memory."""
    ocr_max_side: int = 2400
    """Images are downscaled to this longest side before OCR (speed)."""
    ocr_min_side: int = 1000
    """Smaller images are upscaled (at most 3x) towards this longest side before OCR."""
    pdf_ocr_dpi: int = 200
    """Resolution at which PDF pages without a text layer are rendered for OCR."""
    pdf_preview_dpi: int = 100
    """Resolution of the page image kept in ``Item.image``."""
    pdf_min_text_chars: int = 20
    """A page whose text layer has fewer non-blank characters is treated as a scan."""
    pdf_passages: bool = True
    """Give each page item passages (``Item.passages``): windows of its text that a text
    encoder embeds one by one, each with the box enclosing its words."""
    passage_chars: int = 1000
    """Longest passage, in characters."""
    passage_tokens: int = 240
    """Longest passage in estimated word pieces (MiniLM reads 256 including its two special
    tokens); a window of ``passage_chars`` over dense code or numbers is cut shorter."""
    passage_overlap: int = 100
    """Characters shared by consecutive passages of one text span."""
    pdf_regions: bool = True
    """Also yield the layout regions of each page (sections, lists, code, tables, figures)
    as items of their own, right after their page item."""
    pdf_crop_dpi: int = 144
    """Resolution of the crop kept in ``Item.image`` for table and figure regions (bounded
    by ``image_max_side``)."""
    pdf_max_pages: int = 10_000
    """PDFs with more pages are refused (a generated or malicious file, not a document)."""
    ocr_workers: int = 2
    """Processes that OCR the scanned pages of PDFs in parallel, each keeping one tesseract
    engine; 0 runs OCR in the loading thread."""
    asr: str = "pocketsphinx"
    """Speech-to-text backend for audio and video soundtracks (:mod:`polyseek.asr`):
    ``pocketsphinx`` (offline, poor accuracy), ``whisper:/path/to/model`` or ``none``."""
    subtitles: bool = True
    """Use a sidecar subtitle file (``video.srt``, ``video.en.vtt``) instead of speech to text."""
    moment_max_s: float = 30.0
    """Longest video moment or audio segment, in seconds; longer shots are split."""
    scene_threshold: float = 0.25
    """Frame difference (0-1) that starts a new video moment (a shot cut)."""
    scene_fps: float = 5.0
    """Video frames compared per second for cut detection (cuts are found to 1/scene_fps s)."""
    keyframes: int = 3
    """Keyframes kept per video moment (the first is its thumbnail)."""
    keyframe_side: int = 384
    """Longest side of a keyframe, in pixels."""
    keyframe_pooling: str = "mean"
    """How a moment's keyframes are embedded: ``mean`` or ``first`` (one pooled vector), or
    ``max`` (max-sim: one vector per keyframe; a moment scores as its best keyframe)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"IngestOptions.{f.name} must be a non-negative integer")
        positive = (
            "text_item_chars",
            "max_chunks",
            "max_text_bytes",
            "max_image_pixels",
            "image_max_side",
            "ocr_max_side",
        )
        pdf = ("pdf_ocr_dpi", "pdf_preview_dpi", "pdf_crop_dpi", "pdf_max_pages")
        for name in (*positive, *pdf, "passage_chars", "passage_tokens"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"IngestOptions.{name} must be positive")
        for overlap, size in (("passage_overlap", "passage_chars"),):
            if getattr(self, overlap) >= getattr(self, size):
                raise ConfigError(
                    f"IngestOptions.{overlap} ({getattr(self, overlap)}) must be smaller than "
                    f"{size} ({getattr(self, size)})"
                )
        if self.ocr_workers > 32:
            raise ConfigError(
                f"IngestOptions.ocr_workers ({self.ocr_workers}) must be at most 32",
                hint="one process per core is the most that helps",
            )
        if not self.ocr_lang or not all(part.strip() for part in self.ocr_lang.split("+")):
            raise ConfigError(f"IngestOptions.ocr_lang {self.ocr_lang!r} is not a language list")
        from polyseek.ingest.media_options import check_media_options

        check_media_options(self)


DEFAULT_OPTIONS = IngestOptions()
