"""Snippets: the part of an item's text that best shows why it matched."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

FUNCTION_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    few for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    upon very was we were what when where which while who whom why will with would you your
    yours yourself yourselves via per whose""".split()
)
"""English function words: a query's words that say nothing about what it is after."""


def content_words(query: str | None) -> list[str]:
    """The words of ``query`` worth showing as matches (lower case, in order, once each):
    function words and single letters dropped ("the pump of a car": pump, car)."""
    out: dict[str, None] = {}
    for w in _WORD.findall((query or "").lower()):
        if w not in FUNCTION_WORDS and (len(w) > 1 or w.isdigit()):
            out.setdefault(w)
    return list(out)


def snippet(text: str, query: str | None, width: int = 240) -> str:
    """The window of ``text`` (about ``width`` chars) sharing most words with ``query``."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if not query:
        return text[: width - 1].rstrip() + "…"
    terms = {w for w in content_words(query) if len(w) > 2}
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
