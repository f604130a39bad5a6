"""Tesseract OCR through tesserocr: one engine per thread, loaded once, reused.

``OMP_THREAD_LIMIT=1`` is set before tesserocr is imported (unless the user set it):
tesseract's OpenMP threads only slow it down on small machines, and parallelism comes
from running several pages at once.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyseek.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from PIL.Image import Image

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    "install the tesseract language data (Debian/Ubuntu: apt-get install tesseract-ocr), "
    "or set TESSDATA_PREFIX to the folder holding {lang}.traineddata; "
    "or disable OCR (IngestOptions(ocr=False))"
)
_TESSDATA_GLOBS = (
    "/usr/share/tesseract-ocr/*/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/usr/local/share/tesseract-ocr/*/tessdata",
    "/opt/homebrew/share/tessdata",
    "/opt/local/share/tessdata",
)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path))


def _tessdata_candidates() -> list[Path]:
    candidates: list[Path] = []
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        # tesseract 4+ wants the tessdata folder itself; 3.x wanted its parent.
        candidates += [Path(prefix), Path(prefix) / "tessdata"]
    for pattern in _TESSDATA_GLOBS:
        # Newest tesseract version first.
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=_version_key, reverse=True)]
    return candidates


def find_tessdata(lang: str = "eng") -> Path:
    """The tessdata folder holding every ``<lang>.traineddata`` of ``lang`` (``"eng+deu"``).

    Looks at ``$TESSDATA_PREFIX`` first, then the usual system folders. Raises
    :class:`MissingDependencyError` with an install hint when none has the data.
    """
    langs = [part for part in lang.split("+") if part]
    candidates = _tessdata_candidates()
    for folder in candidates:
        if all((folder / f"{code}.traineddata").is_file() for code in langs):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "no tessdata folder exists"
    raise MissingDependencyError(
        f"tesseract language data for {lang!r} not found (looked in: {looked})",
        hint=_INSTALL_HINT.format(lang=langs[0] if langs else lang),
    )


def ocr_available(lang: str = "eng") -> bool:
    """Whether OCR can run here: tesserocr imports and the language data is found."""
    try:
        import tesserocr  # noqa: F401

        find_tessdata(lang)
    except (ImportError, ConfigError):
        return False
    return True


_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[^\S\n]+")


def clean_ocr_text(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between blocks."""
    text = text.replace("\r", "\n").replace("\f", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class OcrText:
    """OCR output: the cleaned text, tesseract's mean confidence (0-100) and, per line,
    ``(start, end, confidence)`` over ``text``."""

    text: str
    confidence: float
    lines: list[tuple[int, int, float]]

    def metadata(self) -> dict[str, Any]:
        """What an item keeps of it (``rag/quality.py`` reads it to distrust bad lines)."""
        return {
            "ocr_confidence": round(self.confidence, 1),
            "ocr_lines": [[a, b, round(c, 1)] for a, b, c in self.lines],
        }


def _line_spans(text: str, lines: list[tuple[str, float]]) -> list[tuple[int, int, float]]:
    """Where each recognised line lies in the cleaned text (found in order)."""
    out: list[tuple[int, int, float]] = []
    pos = 0
    for words, conf in lines:
        at = text.find(words, pos)
        if at < 0:
            continue
        out.append((at, at + len(words), conf))
        pos = at + len(words)
    return out


class OcrEngine:
    """Tesseract for one language setting; keeps one ``PyTessBaseAPI`` per thread.

    A ``PyTessBaseAPI`` is not thread-safe, and creating one costs ~0.1-0.3 s (it loads
    the model), so each thread gets its own on first use and keeps it.
    """

    def __init__(self, lang: str = "eng", tessdata: str | os.PathLike[str] | None = None) -> None:
        try:
            import tesserocr  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(
                f"tesserocr cannot be imported: {exc}", hint="pip install tesserocr"
            ) from exc
        self.lang = lang
        self.tessdata = Path(tessdata) if tessdata is not None else find_tessdata(lang)
        self._local = threading.local()

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            import tesserocr

            try:
                api = tesserocr.PyTessBaseAPI(
                    path=str(self.tessdata), lang=self.lang, psm=tesserocr.PSM.AUTO
                )
            except RuntimeError as exc:
                raise MissingDependencyError(
                    f"tesseract failed to start with lang={self.lang!r}, "
                    f"tessdata={self.tessdata}: {exc}",
                    hint=_INSTALL_HINT.format(lang=self.lang),
                ) from exc
            self._local.api = api
            logger.debug(
                "started tesseract %s (%s) in thread %s",
                self.lang,
                self.tessdata,
                threading.current_thread().name,
            )
        return api

    def ocr(self, image: Image) -> str:
        """The text tesseract reads in ``image`` (any PIL mode), with whitespace cleaned."""
        return self.read(image).text

    def read(self, image: Image) -> OcrText:
        """The text of ``image`` and how sure tesseract is of it, line by line."""
        import tesserocr

        if image.mode not in ("L", "RGB", "RGBA", "1"):
            image = image.convert("RGB")
        api = self._api()
        api.SetImage(image)
        try:
            raw = api.GetUTF8Text()
            mean = float(api.MeanTextConf())
            lines: list[tuple[str, float]] = []
            it = api.GetIterator() if raw.strip() else None
            level = tesserocr.RIL.TEXTLINE
            while it is not None:
                try:  # tesserocr raises for an element without text (an empty line)
                    words = it.GetUTF8Text(level)
                except RuntimeError:
                    words = ""
                if words and words.strip():
                    lines.append((" ".join(words.split()), float(it.Confidence(level))))
                if not it.Next(level):
                    break
        finally:
            api.Clear()
        text = clean_ocr_text(raw)
        return OcrText(text, mean, _line_spans(text, lines))

    def read_page(self, image: Image, dpi: int) -> dict[str, Any]:
        """Words with boxes and layout blocks of ``image`` rendered at ``dpi``.

        The same result as an :class:`~polyseek.ingest.ocr_pool.OcrPool` worker's, computed
        in the calling thread (see :func:`polyseek.ingest._ocr_worker.read_page`).
        """
        from polyseek.ingest._ocr_worker import read_page

        if image.mode not in ("L", "RGB", "RGBA", "1"):
            image = image.convert("RGB")
        return read_page(self._api(), image, dpi)

    def close(self) -> None:
        """Free the calling thread's tesseract instance (other threads keep theirs)."""
        api = getattr(self._local, "api", None)
        if api is not None:
            api.End()
            self._local.api = None


@functools.lru_cache(maxsize=8)
def get_ocr_engine(lang: str = "eng") -> OcrEngine:
    """The shared engine for ``lang`` (created once per process, per thread inside)."""
    return OcrEngine(lang)


def ocr_image(image: Image, lang: str = "eng") -> str:
    """OCR ``image`` with the shared engine for ``lang``; see :class:`OcrEngine`."""
    return get_ocr_engine(lang).ocr(image)


def fit_for_ocr(image: Image, min_side: int = 1000, max_side: int = 2400) -> Image:
    """Scale ``image`` so its longest side lies in ``[min_side, max_side]`` (upscale <= 3x).

    Tesseract reads best with text 20-40 px high; small images (screenshots, thumbnails)
    gain from upscaling, and huge photos are slow to OCR at full size.
    """
    from PIL import Image as PILImage

    long_side = max(image.size)
    if long_side > max_side:
        scale = max_side / long_side
    elif 0 < long_side < min_side:
        scale = min(3.0, min_side / long_side)
    else:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, PILImage.Resampling.LANCZOS)
