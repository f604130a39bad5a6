"""Cutting text into spans at sentence, line or word boundaries (sections and passages)."""

from __future__ import annotations

import bisect
import re

from polyseek.errors import ConfigError

# A sentence ends after . ! ? (and closing quotes/brackets) followed by whitespace; a line
# break ends one too (headings, list items, table rows rarely end with a full stop).
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u2019\u201d)\]]*(?P<gap>\s+)|(?P<nl>\n)\s*")
_WORD_GAP = re.compile(r"\s+")


def _sentence_bounds(text: str) -> tuple[list[int], list[int]]:
    """Positions where sentences end (exclusive) and where the following ones start."""
    ends: list[int] = []
    starts: list[int] = []
    for m in _SENTENCE_END.finditer(text):
        ends.append(m.start("gap") if m.group("gap") is not None else m.start("nl"))
        starts.append(m.end())
    return ends, starts


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def _trim_space(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def chunk_text(text: str, max_chars: int = 800, overlap: int = 100) -> list[tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` spans of at most ``max_chars`` characters.

    Spans end at sentence (or line) boundaries where one lies in the last two thirds of
    the window, else at a word boundary, else hard at ``max_chars``. Consecutive spans
    overlap by up to ``overlap`` characters, starting at a sentence or word start. Spans
    never begin or end with whitespace, and together they cover every non-whitespace
    character of ``text``. Blank text gives no spans.
    """
    if max_chars <= 0:
        raise ConfigError(f"max_chars must be positive, got {max_chars}")
    if not 0 <= overlap < max_chars:
        raise ConfigError(f"overlap must be in [0, max_chars), got {overlap} (max {max_chars})")
    n = _trim_space(text, 0, len(text))  # trailing whitespace belongs to no span
    ends, starts = _sentence_bounds(text)
    spans: list[tuple[int, int]] = []
    start = _skip_space(text, 0, n)
    while start < n:
        limit = start + max_chars
        if n <= limit:
            spans.append((start, n))
            break
        end = _break_before(text, ends, start, limit, min_fill=max_chars // 3)
        spans.append((start, _trim_space(text, start, end)))
        nxt = _overlap_start(text, starts, start, end, overlap)
        start = _skip_space(text, nxt, n)
    return spans


def _break_before(text: str, ends: list[int], start: int, limit: int, min_fill: int) -> int:
    """The best place to end a span that starts at ``start`` and may not pass ``limit``."""
    i = bisect.bisect_right(ends, limit) - 1
    if i >= 0 and ends[i] >= start + min_fill:
        return ends[i]
    # No sentence end late enough: the last word boundary, if the window has one.
    if text[limit].isspace():
        return limit
    gap = max((m.start() for m in _WORD_GAP.finditer(text, start + 1, limit)), default=-1)
    if gap > start:
        return gap
    return limit  # one very long "word" (a URL, a base64 blob): cut it


def _overlap_start(text: str, starts: list[int], start: int, end: int, overlap: int) -> int:
    """Where the span after ``[start, end)`` begins: a sentence or word start in the overlap."""
    if overlap <= 0:
        return end
    lo = max(end - overlap, start + 1)
    i = bisect.bisect_left(starts, lo)
    if i < len(starts) and starts[i] < end:
        return starts[i]
    m = _WORD_GAP.search(text, lo, end)
    if m is not None and m.end() < end:
        return m.end()
    return end


__all__ = ["chunk_text"]
