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
    chunk_chars: int = 800
    """Longest text chunk, in characters (MiniLM truncates at 256 word pieces, ~1000 chars)."""
    chunk_overlap: int = 100
    """Characters shared by consecutive chunks, so a sentence cut at a border is found."""
    max_text_bytes: int = 64 * 2**20
    """Larger text files are refused (a log or a dump, not a document)."""
    max_chunks: int = 5000
    """At most this many chunks of one text file (about 3.5 M characters) are indexed; the
    rest is left out and the index run reports it (a dump, a log, a book-sized blob)."""
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
            "chunk_chars",
            "max_chunks",
            "max_text_bytes",
            "max_image_pixels",
            "image_max_side",
            "ocr_max_side",
        )
        for name in (*positive, "pdf_ocr_dpi", "pdf_preview_dpi"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"IngestOptions.{name} must be positive")
        if self.chunk_overlap >= self.chunk_chars:
            raise ConfigError(
                f"IngestOptions.chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_chars ({self.chunk_chars})"
            )
        if not self.ocr_lang or not all(part.strip() for part in self.ocr_lang.split("+")):
            raise ConfigError(f"IngestOptions.ocr_lang {self.ocr_lang!r} is not a language list")
        from polyseek.ingest.media_options import check_media_options

        check_media_options(self)


DEFAULT_OPTIONS = IngestOptions()
