"""Known-item queries built from a manual's text layer, for ``benchmarks/documents.py``.

Each query has one relevant page, the page it was taken from:

(a) ``sentence``: a sentence of at least 8 words from the middle of a page: not on its
    first or last lines, not on a header/footer line (a line that, digits aside, repeats
    on several pages), not broken by an end-of-line hyphen, mostly words (not code), and
    found on no other page of the manual.
(b) ``words``: 3-6 content words (no stopwords, no numbers) taken in order from a
    contiguous window of a page's body; no other page holds all of them, so the answer
    is unique (words compared lower-cased, whole words).
(c) ``scan``: task (a) sentences (up to 3 per page) of 40 pages that are then scanned
    (rendered to images, text layer gone) and indexed through OCR.

Everything is seeded by the manual's key and the task, so the same manual always gives
the same queries, whatever other manuals or tasks are run.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_SENTENCE_WORDS = 8
MAX_SENTENCE_TOKENS = 60
EDGE_LINES = 3  # lines at the top and bottom of a page never give a query
REPEATED_ON_PAGES = 3  # a line found on this many pages is a header/footer
WORD_WINDOW = 25  # words of the page a task (b) query is drawn from
MIN_WORDS, MAX_WORDS = 3, 6
WORD_TRIES = 40  # windows tried per page before giving it up

# NLTK's English stopword list, plus a few function words it lacks.
STOPWORDS = frozenset(
    """a about above after again against ain all also am an and any are aren aren't as at
    be because been before being below between both but by can couldn couldn't d did didn
    didn't do does doesn doesn't doing don don't down during each etc few for from further
    had hadn hadn't has hasn hasn't have haven haven't having he her here hers herself him
    himself his how however i if in into is isn isn't it it's its itself just ll m ma may
    me might mightn mightn't more most must mustn mustn't my myself needn needn't no nor not
    now o of off on once only or other our ours ourselves out over own re s same shall
    shan shan't she she's should should've shouldn shouldn't so some such t than that
    that'll the their theirs them themselves then there these they this those through to
    too under until up upon us ve very via was wasn wasn't we were weren weren't what when
    where which while who whom why will with won won't would wouldn wouldn't y yet you
    you'd you'll you're you've your yours yourself yourselves one two three also thus""".split()
)

_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
# A sentence ends at . ! ? (maybe followed by a closing quote or bracket) before a capital.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)\]]?\s+(?=[\"'“(\[]?[A-Z])")
# ... and it ends with a word (or a closing bracket/quote), not a list number ("3.").
_GOOD_END = re.compile(r"[A-Za-z)\]\"'’”][.!?][\"'’”)\]]?$")
_HYPHEN_BREAK = re.compile(r"[A-Za-z]-\n[a-z]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
_PROSE_TOKEN = re.compile(r"^[A-Za-z]+(?:['’-][A-Za-z]+)*$")
_STRIP = ".,;:!?()[]{}\"'’‘“”"


@dataclass(frozen=True)
class KnownItem:
    id: str  # "<manual>/<task>/p<page>[.<n>]"
    manual: str
    task: str  # "sentence" | "words" | "scan"
    text: str
    page: int  # 1-based page of the indexed file (for "scan": of the scanned copy)
    source_page: int  # 1-based page of the manual's file the text was taken from


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _line_key(line: str) -> str:
    return _DIGITS.sub("#", normalize(line))


@dataclass
class ManualText:
    """A manual's text layer, with what the tasks need precomputed."""

    pages: list[str]
    norm: list[str] = field(init=False)  # whitespace-collapsed, lower-cased page texts
    words: list[frozenset[str]] = field(init=False)  # lower-cased whole words per page
    body: list[list[str]] = field(init=False)  # lines a query may come from

    def __post_init__(self) -> None:
        self.norm = [normalize(t) for t in self.pages]
        self.words = [frozenset(w.lower() for w in _WORD.findall(t)) for t in self.pages]
        lines = [[ln for ln in t.splitlines() if ln.strip()] for t in self.pages]
        seen = Counter(key for page in lines for key in {_line_key(ln) for ln in page})
        self.body = []
        for page in lines:
            middle = page[EDGE_LINES : max(EDGE_LINES, len(page) - EDGE_LINES)]
            self.body.append([ln for ln in middle if seen[_line_key(ln)] < REPEATED_ON_PAGES])

    def on_pages(self, text: str) -> int:
        """On how many pages the (normalised) text occurs."""
        needle = normalize(text)
        return sum(1 for page in self.norm if needle in page)

    def sentences(self, index: int) -> list[str]:
        """Candidate task (a) sentences of page ``index`` (0-based), not yet checked unique."""
        pieces = _SENTENCE_END.split("\n".join(self.body[index]))
        out = []
        # The first and last pieces may be cut by the body's edges: never used.
        for piece in pieces[1:-1]:
            if _HYPHEN_BREAK.search(piece) or not _GOOD_END.search(piece):
                continue
            text = " ".join(piece.split())
            tokens = text.split()
            if not (MIN_SENTENCE_WORDS <= len(tokens) <= MAX_SENTENCE_TOKENS):
                continue
            if not all(ch.isprintable() for ch in text):
                continue
            prose = [t for t in tokens if _PROSE_TOKEN.match(t.strip(_STRIP))]
            if len(prose) < MIN_SENTENCE_WORDS or len(prose) < 0.75 * len(tokens):
                continue
            if normalize(text) not in self.norm[index]:  # a removed line was inside it
                continue
            out.append(text)
        return list(dict.fromkeys(out))

    def unique_sentences(self, index: int) -> list[str]:
        return [s for s in self.sentences(index) if self.on_pages(s) == 1]

    def body_words(self, index: int) -> list[str]:
        """The body's words in reading order; a word split by an end-of-line hyphen is dropped."""
        out: list[str] = []
        lines = self.body[index]
        skip_first = False
        for n, line in enumerate(lines):
            words = [w.lower() for w in _WORD.findall(line)]
            if skip_first and words:
                words = words[1:]
            skip_first = False
            following = lines[n + 1].lstrip() if n + 1 < len(lines) else ""
            if re.search(r"[A-Za-z]-$", line.rstrip()) and following[:1].islower():
                words = words[:-1]
                skip_first = True
            out += words
        return out


def is_content_word(word: str) -> bool:
    return len(word) >= 3 and word not in STOPWORDS and not any(ch.isdigit() for ch in word)


def _rng(seed: int, manual: str, task: str) -> random.Random:
    return random.Random(f"{seed}/{manual}/{task}")


def sentence_queries(
    manual: str, text: ManualText, limit: int, seed: int = 0, pages: Sequence[int] | None = None
) -> list[KnownItem]:
    """Task (a): one unique mid-page sentence from each of up to ``limit`` random pages."""
    rng = _rng(seed, manual, "sentence")
    order = list(pages if pages is not None else range(len(text.pages)))
    rng.shuffle(order)
    out = []
    for index in order:
        candidates = text.sentences(index)
        rng.shuffle(candidates)
        found = next((s for s in candidates if text.on_pages(s) == 1), None)
        if found is None:
            continue
        out.append(
            KnownItem(
                f"{manual}/sentence/p{index + 1}", manual, "sentence", found, index + 1, index + 1
            )
        )
        if len(out) >= limit:
            break
    return sorted(out, key=lambda q: q.page)


def word_queries(
    manual: str, text: ManualText, limit: int, seed: int = 0, pages: Sequence[int] | None = None
) -> list[KnownItem]:
    """Task (b): 3-6 content words, in order, from a window of each of up to ``limit`` pages."""
    rng = _rng(seed, manual, "words")
    order = list(pages if pages is not None else range(len(text.pages)))
    rng.shuffle(order)
    out = []
    for index in order:
        words = text.body_words(index)
        if len(words) < WORD_WINDOW:
            continue
        for _ in range(WORD_TRIES):
            k = rng.randint(MIN_WORDS, MAX_WORDS)
            start = rng.randrange(len(words) - k + 1)
            picked = list(
                dict.fromkeys(w for w in words[start : start + WORD_WINDOW] if is_content_word(w))
            )[:k]
            if len(picked) < k:
                continue
            holders = sum(1 for page in text.words if page.issuperset(picked))
            if holders == 1:
                q = " ".join(picked)
                out.append(
                    KnownItem(
                        f"{manual}/words/p{index + 1}", manual, "words", q, index + 1, index + 1
                    )
                )
                break
        if len(out) >= limit:
            break
    return sorted(out, key=lambda q: q.page)


def scan_pages(manual: str, text: ManualText, n: int, seed: int = 0) -> list[int]:
    """Task (c): ``n`` random pages (1-based, sorted) that have a unique mid-page sentence."""
    rng = _rng(seed, manual, "scan-pages")
    order = list(range(len(text.pages)))
    rng.shuffle(order)
    chosen = []
    for index in order:
        if text.unique_sentences(index):
            chosen.append(index + 1)
            if len(chosen) >= n:
                break
    return sorted(chosen)


def scan_queries(
    manual: str, text: ManualText, pages: Sequence[int], per_page: int = 3, seed: int = 0
) -> list[KnownItem]:
    """Task (c): up to ``per_page`` unique sentences of each scanned page (original text)."""
    rng = _rng(seed, manual, "scan")
    out = []
    for position, page in enumerate(pages, start=1):
        sentences = text.unique_sentences(page - 1)
        for n, sentence in enumerate(rng.sample(sentences, min(per_page, len(sentences)))):
            out.append(
                KnownItem(f"{manual}/scan/p{page}.{n}", manual, "scan", sentence, position, page)
            )
    return out
