"""How clean a sentence's text is: a text layer, or OCR that may have misread it.

The same fact often appears twice in a collection: in a PDF's text layer and in OCR of
a photo or scan ("Replace every 500 operating hours" on a filter label). Answers quote
the text layer when both say it, and OCR lines that tesseract read badly
(``TTTTATTHTTTH 4 Housing bolts M8, 25 Nm``) count for less than clean ones.

Tesseract's own confidences are used where the index stores them: per line in
``metadata["ocr_lines"]`` (``[start, end, confidence 0-100]`` over the item's text) or
one mean in ``metadata["ocr_confidence"]``. Indexes without them (today's ingest stores
only ``metadata["ocr"] = True``) get :func:`text_quality`, the share of the line's tokens
that look like words: not runs of one letter, not consonant soup, not stray symbols.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from polyseek.types import Modality

_EDGE_PUNCT = ".,;:!?()[]{}\"'“”‘’«»"
_REPEAT = re.compile(r"(.)\1\1")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_CASE_SWITCH = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")


def machine_read(modality: Modality, metadata: Mapping[str, Any]) -> bool:
    """Whether an item's text was read by OCR (an image's text, a scanned page)."""
    return modality == "image" or (modality == "page" and bool(metadata.get("ocr")))


def _plausible(token: str) -> bool:
    core = token.strip(_EDGE_PUNCT)
    if not core or not any(ch.isalnum() for ch in core):
        return False
    if len(core) > 25 or _REPEAT.search(core):
        return False
    letters = "".join(ch for ch in core if ch.isalpha())
    if len(core) == 1 and core.isalpha():  # "rev. C" is fine, a stray "e" or "o" is not
        return core.isupper() or core == "a"
    if letters == core and len(core) >= 4 and not _VOWEL.search(core):
        return False
    return len(_CASE_SWITCH.findall(core)) <= 1


def text_quality(text: str) -> float:
    """Share of ``text``'s whitespace-separated tokens that look like words or numbers."""
    toks = text.split()
    if not toks:
        return 0.0
    return sum(_plausible(t) for t in toks) / len(toks)


def ocr_quality(metadata: Mapping[str, Any], text: str, start: int, end: int) -> float:
    """0..1: how well OCR read ``item_text[start:end]`` (lowest line confidence over the
    span, else the item's mean confidence, else :func:`text_quality` of ``text``)."""
    lines = metadata.get("ocr_lines")
    if isinstance(lines, list) and lines:
        confs = [float(c) for a, b, c in lines if a < end and b > start]
        if confs:
            return max(0.0, min(confs)) / 100.0
    mean = metadata.get("ocr_confidence")
    if isinstance(mean, (int, float)):
        return max(0.0, min(float(mean), 100.0)) / 100.0
    return text_quality(text)
