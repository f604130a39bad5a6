"""Snippets: the part of an item's text that best shows why it matched."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def snippet(text: str, query: str | None, width: int = 240) -> str:
    """The window of ``text`` (about ``width`` chars) sharing most words with ``query``."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if not query:
        return text[: width - 1].rstrip() + "…"
    terms = {w.lower() for w in _WORD.findall(query) if len(w) > 2}
    best_start, best_hits = 0, -1
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
    for start in starts:
        window = text[start : start + width].lower()
        hits = sum(1 for t in terms if t in window)
        if hits > best_hits:
            best_start, best_hits = start, hits
    out = text[best_start : best_start + width]
    prefix = "…" if best_start > 0 else ""
    suffix = "…" if best_start + width < len(text) else ""
    return prefix + out.strip() + suffix
