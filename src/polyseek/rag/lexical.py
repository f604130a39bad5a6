"""Words, stems and numbers: the lexical side of sentence scoring and support checks.

Question words are matched against evidence sentences by their English (Snowball) stems,
weighted by how rare they are among the candidate sentences (IDF over the pool), so the
words that tell candidates apart ("batch size", "impeller") count more than the ones
every candidate shares. Compound names keep their parts too: ``FC-40`` is ``fc-40``,
``fc`` and ``40``; ``M^2IXT`` is ``m^2ixt``, ``m`` and ``2ixt``.

The question's *answer type* is read from its first words: "how many/much/often/long",
"what percentage/accuracy/torque/size...", "when" want a number; "which/what ... called",
"who" want a name; "what does X stand for" wants X spelled out. A sentence offering no
number to a number question is unlikely to answer it; that is cheap to check and catches
many on-topic questions whose answer is simply not there.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from polyseek.search.snippets import FUNCTION_WORDS

AnswerType = Literal["number", "date", "code", "link", "name", "expansion", "other"]

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-^.'’/][A-Za-z0-9]+)*")
_PART = re.compile(r"[A-Za-z]+|\d+(?:[.,]\d+)*")
# A number: digits (with , or . groups) not glued to letters before them (so not "M8",
# "P-200", "NLVR^2", "v1.5"), optionally with a unit suffix.
_NUMBER = re.compile(r"(?<![A-Za-z0-9^\-.])(\d+(?:[.,]\d+)*)(?:\s?(%|[kKmMbB]\b|x\b))?")
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion trillion dozen".split()
)

STOPWORDS = FUNCTION_WORDS | frozenset(
    """many much often long large big high far according called named name stand stands
    paper papers authors author proposed propose use used using uses kind type one""".split()
)
"""Function words and the question's own scaffolding ("how many", "what is ... called")."""

_NUMBER_QUESTION = re.compile(
    r"^\s*(?:how\s+(?:many|much|often|long|large|big|high|far|fast|old|frequently)\b|"
    r"(?:by|up\s+to|at|to|in|for|of|on|with|from|over|across)\s+how\s+(?:many|much)\b|"
    r"(?:what|which)\s+(?:[\w-]+\s+){0,4}?(?:number|percentage|percent|share|accuracy|torque|"
    r"size|rate|amount|gain|improvement|increase|reduction|count|year|date|weight|price|cost|"
    r"voltage|diameter|resolution|latency|speed|level|score|interval|length|width|height|"
    r"capacity|temperature|pressure|duration|dimension)s?\b)",
    re.IGNORECASE,
)
_LINK_QUESTION = re.compile(
    r"^\s*(?:where\b.*\b(?:available|found|released|hosted|downloaded|downloadable|accessible|"
    r"obtained|published)\b|(?:what|which)\s+(?:is|are)\s+the\s+(?:[\w-]+\s+)?(?:url|link|"
    r"website|web\s+site|homepage|home\s+page|repository)s?\b)",
    re.IGNORECASE,
)
_EXPANSION_QUESTION = re.compile(
    r"\b(?:stand\s+for|acronym|abbreviation|short\s+for)\b", re.IGNORECASE
)
_NAME_QUESTION = re.compile(
    r"^\s*(?:who\b|(?:what|which)\b.*\b(?:called|named|stand\s+for|acronym|name)\b|"
    r"what\s+does\s+\S+\s+stand\s+for)",
    re.IGNORECASE,
)


def names(question: str) -> list[str]:
    """The names a question mentions: words with a capital past its first word, and codes
    mixing letters and digits (``SOLO``, ``Flamingo``, ``MoE-LLaVA``, ``P-200``, ``4M``)."""
    out = []
    for i, m in enumerate(_TOKEN.finditer(question)):
        tok = m.group()
        mixed = any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok)
        if mixed or (i > 0 and any(c.isupper() for c in tok)):
            out.append(tok)
    return out


def name_found(name: str, found: frozenset[str] | set[str]) -> bool:
    """Whether ``name`` (a token of a question) is among the stems ``found``: itself, or
    every part of it (``RLHF-trained``: ``rlhf`` and ``train``)."""
    parts = [t for t in tokens(name) if t not in STOPWORDS]
    whole = stem(parts[0]) if parts else ""
    return whole in found or all(stem(t) in found for t in parts[1:] or parts)


def _initials(words: Sequence[str]) -> str:
    return "".join(w[0] for w in words if w[:1].isupper())


def spells_out(acronym: str, sentence: str) -> bool:
    """Whether ``sentence`` spells ``acronym`` out: ``Assembly of Global and Local
    Attention (AGLA)`` or ``S-VCO (Symmetrical Visual Contrastive Optimization)``."""
    letters = "".join(c for c in acronym if c.isupper())
    if len(letters) < 2:
        return False
    esc = re.escape(acronym)
    after = re.search(rf"{esc}\s*\(([^()]+)\)", sentence)
    if after and _initials(after.group(1).split()).startswith(letters):
        return True
    before = re.search(rf"([^()]+?)\s*\({esc}\)", sentence)
    return bool(before and _initials(before.group(1).split()).endswith(letters))


@functools.lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English stem of a lower-case word (numbers and codes are kept as they are); a
    hyphenated word has each part stemmed (``fine-tuned`` and ``fine-tunes``: ``fine-tune``)."""
    if "-" in word and all(part.isalpha() for part in word.split("-")):
        return "-".join(stem(part) for part in word.split("-"))
    if not word.isalpha():
        return word
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def tokens(text: str) -> list[str]:
    """Lower-case tokens of ``text``: each word, and the parts of compound names."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group().lower().replace("’", "'")
        out.append(tok)
        parts = _PART.findall(tok)
        if len(parts) > 1:
            out.extend(parts)
    return out


@functools.lru_cache(maxsize=16384)
def terms(text: str) -> frozenset[str]:
    """The stems of the content words of ``text`` (stopwords dropped)."""
    return frozenset(
        stem(t.replace(",", "")) for t in tokens(text) if t not in STOPWORDS and len(t) > 1
    )


def numbers(text: str) -> frozenset[str]:
    """Numbers written in ``text`` (``22,000`` -> ``22000``; ``50K`` -> ``50k``), and number
    words (``four``, ``ten``)."""
    found = {
        (m.group(1).replace(",", "") + (m.group(2) or "").lower()).rstrip(".")
        for m in _NUMBER.finditer(text)
    }
    found |= {t for t in tokens(text) if t in NUMBER_WORDS}
    return frozenset(found)


_DATE_QUESTION = re.compile(
    r"^\s*(?:when\b|(?:in\s+|on\s+)?(?:what|which)\s+(?:year|date|month|day)\b)", re.IGNORECASE
)
_DATE = re.compile(
    r"\b(?:1[5-9]\d\d|20\d\d)\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
    r"[a-z]*\.?\s+\d{1,4}\b|\b\d{4}-\d\d-\d\d\b",
    re.IGNORECASE,
)


def has_date(text: str) -> bool:
    """Whether ``text`` states a year or a date (``2024``, ``Apr 23``, ``2024-03-12``)."""
    return bool(_DATE.search(text))


_CODE_QUESTION = re.compile(
    r"\b(?:part|drawing|serial|phone|telephone|model|order|item|reference|catalog(?:ue)?|"
    r"article|version|id|identification)\s+(?:number|no|code)s?\b",
    re.IGNORECASE,
)
_FOCUS = (
    # "how many class hours do ...", "by how much do ..."
    re.compile(
        r"how\s+(?:many|much)\s+((?:[\w^-]+\s+){0,3}?)(?:do|does|did|is|are|was|were|can|could|"
        r"should|would|will|has|have|had|in|on|of|for|to|from|with|by)\b",
        re.IGNORECASE,
    ),
    # "what is the weight of ...", "what are the main tasks in ..."
    re.compile(
        r"^\W*(?:\w+\s+)?(?:what|which)\s+(?:is|are|was|were)\s+(?:the\s+|a\s+|an\s+)?"
        r"((?:[\w^-]+\s+){1,3}?)(?:of|for|in|on|at|that|does|do|to|used|needed|required)\b",
        re.IGNORECASE,
    ),
    # "what supply voltage does ...", "under which license is ..."
    re.compile(
        r"^\W*(?:\w+\s+)?(?:what|which)\s+((?:[\w^-]+\s+){1,3}?)(?:does|do|did|is|are|was|were|"
        r"should|must|can|could|will|would|has|have|had)\b",
        re.IGNORECASE,
    ),
)


ANSWER_NOUNS = frozenset({"number", "address", "date", "year", "code"})
"""Words naming the kind of answer rather than its topic: "the drawing *number*" is
answered by "Drawing P-200-EV rev. C", "the street *address*" by "12 Dock Street"."""
_ANSWER_STEMS = frozenset(stem(w) for w in ANSWER_NOUNS)


def focus(question: str) -> frozenset[str]:
    """The stems of what the question asks about: ``weight`` in "What is the weight of the
    pump?", ``learning rate`` in "What learning rate is used...", ``layers`` in "How many
    layers does SOLO have?"; ``drawing`` in "What is the drawing number..." (the answer
    rarely repeats an :data:`ANSWER_NOUNS` word). Empty when no pattern fits."""
    for pattern in _FOCUS:
        m = pattern.search(question)
        if m and m.group(1).strip():
            return terms(m.group(1)) - _ANSWER_STEMS
    return frozenset()


def states_count(question: str, sentence: str) -> bool:
    """Whether ``sentence`` counts what a "how many X" question asks about: a number right
    before X (``five modalities``) or before X's acronym ("how many vision-language
    models" -> ``39 VLMs``)."""
    m = _FOCUS[0].search(question)
    if not m or not m.group(1).strip():
        return False
    words = [w.lower() for w in _TOKEN.findall(m.group(1))]
    wanted = {stem(part) for w in words for part in w.split("-") if part} - _ANSWER_STEMS
    initials = "".join(part[0] for w in words for part in w.split("-") if part)
    toks = [t.lower() for t in _TOKEN.findall(sentence)]
    for i, tok in enumerate(toks):
        if not (tok in NUMBER_WORDS or _NUMBER.fullmatch(tok)):
            continue
        for nxt in toks[i + 1 : i + 3]:  # "five modalities", "five distinct modalities"
            if stem(nxt) in wanted or (len(initials) > 1 and nxt.removesuffix("s") == initials):
                return True
    return False


def answer_type(question: str) -> AnswerType:
    """What the question asks for: a number, a date, a code (part/phone number), a link
    ("where is the code available?"), a name, the expansion of an acronym, or something
    else."""
    if _CODE_QUESTION.search(question):
        return "code"
    if _DATE_QUESTION.search(question):
        return "date"
    if _LINK_QUESTION.search(question):
        return "link"
    if _NUMBER_QUESTION.search(question):
        return "number"
    if _EXPANSION_QUESTION.search(question):
        return "expansion"
    if _NAME_QUESTION.search(question):
        return "name"
    return "other"


@dataclass(frozen=True)
class Weighted:
    """Question terms with their weights (IDF over a pool of candidate sentences)."""

    weights: dict[str, float]

    @classmethod
    def of(cls, question: str, pool: Sequence[Iterable[str]]) -> Weighted:
        """Weights ``log(1 + (N + 1) / (df + 0.5))`` over the ``pool`` (term sets)."""
        wanted = terms(question)
        df: Counter[str] = Counter()
        for ts in pool:
            df.update(wanted.intersection(ts))
        n = len(pool)
        return cls({t: math.log(1.0 + (n + 1) / (df[t] + 0.5)) for t in wanted})

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def only(self, wanted: Iterable[str]) -> Weighted:
        """The same weights, restricted to ``wanted`` stems."""
        keep = set(wanted)
        return Weighted({t: w for t, w in self.weights.items() if t in keep})

    def coverage(self, found: Iterable[str]) -> float:
        """Share of the question's (weighted) terms in ``found``: 0 (none) .. 1 (all)."""
        total = self.total
        if total <= 0:
            return 0.0
        return sum(self.weights.get(t, 0.0) for t in set(found)) / total
