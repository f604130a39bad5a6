"""Scoring evidence sentences against a question: dense, lexical, answer type, cleanliness.

Every sentence of the retrieved items gets one absolute score,

    score = dense + lexical_w * lexical + type_fit - penalties

- ``dense``: cosine of the question (embedded as a query) and the sentence (as a
  document) under the index's text encoder (for the ``dense_depth`` sentences best by
  the other signals: embedding every sentence of every item costs too much);
- ``lexical``: the IDF-weighted share of the question's content stems found in the
  sentence, plus ``context`` x the share found only in its context (the heading or
  title above it, the item's title, all of a short item such as a label or a sign)
  and ``item`` x the share found only elsewhere *near* it in its item: questions name
  the paper or the part, the sentence holding the answer often does not;
- ``type_fit``: a number (date, code) question rewards a sentence offering a number
  (date, code) the question does not contain and penalises one offering none; "what
  does X stand for" rewards spelling X out; a name question rewards a new name;
- penalties: question terms found nowhere near it (``missing``), the asked-about
  ``focus`` ("weight" in "what is the weight of...") or a name the question mentions
  (``names``) absent from near it, a sentence that only echoes the question's words
  (``echo``), a heading or title of a text layer (``title``), a link (``url``), and OCR
  text: ``ocr`` plus ``ocr_quality`` x (1 - quality) (:mod:`.quality`).

*Near* a sentence is its heading's section (:attr:`Sentence.section`) and the passages
holding it, not its whole item: a 4,000-character section of a paper listing runs over
several abstracts (a focus word found in the next paper's abstract let "Which optimizer
trained Flamingo?" be answered), a page over several topics. On the DEV questions of
``benchmarks/answers.py``: accuracy/abstention 0.84/0.70 with the whole item, 0.80/0.80
with the passages alone, 0.84/0.80 with the section and passages.

Being absolute (no per-query normalisation), the score takes one threshold deciding
when no sentence answers. A :class:`~polyseek.rerank.Reranker` (``late:minilm``, a
cross-encoder), when given, re-orders the ``rerank_depth`` best sentences: its scores,
standardised over them, are added with ``rerank`` weight; the no-answer decision still
uses the score above. Weights and threshold were set on the DEV questions of
``benchmarks/answers.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from polyseek.rag.base import Evidence
from polyseek.rag.lexical import (
    AnswerType,
    Weighted,
    answer_type,
    focus,
    has_date,
    name_found,
    names,
    numbers,
    spells_out,
    states_count,
    terms,
    tokens,
)
from polyseek.rag.quality import machine_read, ocr_quality
from polyseek.rag.sentences import Sentence, split_sentences

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.rerank.base import Reranker

_CODE = re.compile(r"[a-z].*\d|\d.*[a-z]|\d{3,}")
_NAME = re.compile(r"\b(?:[A-Z][a-z]*[A-Z0-9][\w-]*|[A-Z]{2,}[\w-]*|[A-Z][a-z]+-[A-Z][\w-]*)")


@dataclass(frozen=True)
class Weights:
    """How the signals of :mod:`polyseek.rag.scoring` are mixed (see the module doc)."""

    lexical: float = 1.2
    context: float = 0.5  # credit for a question term found only in the sentence's context
    item: float = 0.2  # ... found only elsewhere in its item
    missing: float = 0.1  # penalty x share of question terms found nowhere in the item
    focus: float = 0.6  # penalty x share of what is asked about ("weight") not in the item
    names: float = 0.6  # penalty when a name of the question (SOLO) is nowhere in the item
    expansion: float = 0.3  # bonus for spelling out the acronym asked about
    number: float = 0.3
    counted: float = 0.3  # ... more when the number counts what "how many X" asks (5 Xs)
    name: float = 0.05
    echo: float = 0.5  # penalty for a sentence that only repeats the question's words
    title: float = 0.2  # penalty for a heading or title of a text layer
    url: float = 0.1
    ocr: float = 0.05
    ocr_quality: float = 0.4
    rerank: float = 0.1
    rerank_depth: int = 12
    short_line: int = 60  # shorter sentences are embedded with their context line
    short_item: int = 400  # items this short (labels, signs) are context for each line
    dense_depth: int = 24  # sentences (best by the other signals) embedded for the dense one


@dataclass(frozen=True)
class Candidate:
    """An evidence sentence and its scores."""

    evidence: Evidence
    sentence: Sentence
    dense: float
    lexical: float
    type_fit: float
    quality: float  # 1.0 for a text layer
    machine_read: bool
    score: float  # the absolute score (no-answer gate)
    rank_score: float  # score plus the reranker's share (ordering)


def pool(evidence: Sequence[Evidence]) -> list[tuple[Evidence, Sentence]]:
    """Every sentence of every evidence item, in retrieval order. Left out: questions (a
    sentence asking something answers nothing), in an item with passages what no passage
    covers (a PDF page's running header, footer and page number), and a table row its
    page's text states as a sentence already (a two-column row often reads as one:
    ``Replace the filter | every 500 hours``): the page's sentence is quoted, once."""
    split = [(e, split_sentences(e.text)) for e in evidence]
    on_page: dict[tuple[str, int | None], set[str]] = {}
    for e, sentences in split:
        if e.modality == "page" and e.locator.region is None:
            on_page.setdefault((e.source, e.locator.page), set()).update(
                _plain(s.text) for s in sentences
            )
    return [
        (e, s)
        for e, sentences in split
        for s in sentences
        if not s.text.endswith("?")
        and e.covers(s.start, s.end)
        and not (
            e.locator.region == "table"
            and _plain(s.text) in on_page.get((e.source, e.locator.page), ())
        )
    ]


def _plain(sentence: str) -> str:
    """A sentence compared across a table and its page: cells as words, case folded."""
    return " ".join(sentence.replace(" | ", " ").split()).casefold()


def _dense_text(s: Sentence, w: Weights) -> str:
    """What the encoder sees of a sentence: a short line (a label, a table row) is read
    with the heading or line above it, as a reader would."""
    if s.context and len(s.text) < w.short_line:
        return f"{s.context}: {s.text}"
    return s.text


def _near(e: Evidence, s: Sentence) -> str:
    """The part of its item a sentence is read in: its heading's section and the passages
    holding it (the whole of an item without passages). Not the whole item: a section of
    a paper listing runs over several papers, a page over several topics."""
    a, b = s.section
    return f"{e.text[a:b]}\n{e.near(s.start, s.end)}"


def _title(e: Evidence) -> str:
    title = e.metadata.get("title") or e.metadata.get("heading") or ""
    return str(title)


def _type_fit(kind: AnswerType, question: str, sentence: str, w: Weights) -> float:
    if kind == "number":
        if not numbers(sentence) - numbers(question):
            return -w.number
        return w.number + (w.counted if states_count(question, sentence) else 0.0)
    if kind == "link":
        return w.number if "http://" in sentence or "https://" in sentence else -w.number
    if kind == "date":
        return w.number if has_date(sentence) and not has_date(question) else -w.number
    if kind == "code":
        asked = set(tokens(question))
        codes = [t for t in tokens(sentence) if _CODE.search(t) and t not in asked]
        return w.number if codes else -w.number
    if kind == "expansion":
        return w.expansion if any(spells_out(n, sentence) for n in names(question)) else 0.0
    if kind == "name":
        asked = set(names(question))
        return w.name if any(n not in asked for n in _NAME.findall(sentence)) else 0.0
    return 0.0


@dataclass(frozen=True)
class _Lexical:
    """The signals that need no model, for one sentence."""

    lexical: float
    fit: float
    penalty: float
    quality: float
    machine_read: bool

    @property
    def partial(self) -> float:
        return self.fit - self.penalty


class _Question:
    """What scoring needs of the question, computed once."""

    def __init__(self, text: str, weighted: Weighted) -> None:
        self.text = text
        self.weighted = weighted
        self.terms = terms(text)
        self.kind = answer_type(text)
        self.focus = weighted.only(focus(text))
        self.names = names(text)


class SentenceScorer:
    """Scores the sentences of retrieved evidence for a question (see the module doc)."""

    def __init__(
        self, encoder: Encoder, weights: Weights | None = None, reranker: Reranker | None = None
    ) -> None:
        self.encoder = encoder
        self.weights = weights or Weights()
        self.reranker = reranker

    def score(self, question: str, evidence: Sequence[Evidence]) -> list[Candidate]:
        """Candidates, best first by ``rank_score``."""
        w = self.weights
        sentences = pool(evidence)
        if not sentences:
            return []
        q = _Question(question, Weighted.of(question, [terms(s.text) for _, s in sentences]))
        signals = [self._lexical(q, e, s) for e, s in sentences]
        order = sorted(
            range(len(sentences)),
            key=lambda i: -(w.lexical * signals[i].lexical + signals[i].partial),
        )
        shortlist = order[: w.dense_depth]
        qv = self.encoder.embed_queries([question])
        d = self.encoder.embed_documents([_dense_text(sentences[i][1], w) for i in shortlist])
        dense = np.asarray(qv @ d.T, dtype=np.float64)[0]
        out = []
        for j, i in enumerate(shortlist):
            e, s = sentences[i]
            sig = signals[i]
            total = float(dense[j]) + w.lexical * sig.lexical + sig.partial
            out.append(
                Candidate(
                    e,
                    s,
                    float(dense[j]),
                    sig.lexical,
                    sig.fit,
                    sig.quality,
                    sig.machine_read,
                    total,
                    total,
                )
            )
        out.sort(key=lambda c: -c.score)
        if self.reranker is not None:
            out = self._rerank(self.reranker, question, out)
        return out

    def _lexical(self, q: _Question, e: Evidence, s: Sentence) -> _Lexical:
        w = self.weights
        own = terms(s.text)
        around = terms(s.context) | terms(_title(e))
        if len(e.text) <= w.short_item:  # a label, a sign, a receipt: all of it is context
            around |= terms(e.text)
        around -= own
        everywhere = own | around | terms(_near(e, s))
        lexical = (
            q.weighted.coverage(own)
            + w.context * q.weighted.coverage(around)
            + w.item * q.weighted.coverage(everywhere - own - around)
        )
        penalty = w.missing * (1.0 - q.weighted.coverage(everywhere))
        if q.focus.weights:
            penalty += w.focus * (1.0 - q.focus.coverage(everywhere))
        if any(not name_found(n, everywhere) for n in q.names):
            penalty += w.names
        penalty += w.echo * max(0.0, 1.0 - len(own - q.terms) / 2.0)
        ocr = machine_read(e.modality, e.metadata)
        if s.title_like and not ocr:
            penalty += w.title
        if q.kind != "link" and ("http://" in s.text or "https://" in s.text):
            penalty += w.url
        quality = ocr_quality(e.metadata, s.text, s.start, s.end) if ocr else 1.0
        if ocr:
            penalty += w.ocr + w.ocr_quality * (1.0 - quality)
        return _Lexical(lexical, _type_fit(q.kind, q.text, s.text, w), penalty, quality, ocr)

    def _rerank(
        self, reranker: Reranker, question: str, ranked: list[Candidate]
    ) -> list[Candidate]:
        from dataclasses import replace

        from polyseek.rerank.base import Candidate as RerankCandidate

        head = ranked[: self.weights.rerank_depth]
        if len(head) < 2:
            return ranked
        scores = np.asarray(
            self.reranker.score(  # type: ignore[union-attr]
                question,
                [
                    RerankCandidate(c.evidence.item_id, c.evidence.modality, c.sentence.text)
                    for c in head
                ],
            ),
            dtype=np.float64,
        )
        spread = float(scores.std()) or 1.0
        z = (scores - scores.mean()) / spread
        head = [
            replace(c, rank_score=c.score + self.weights.rerank * float(z[i]))
            for i, c in enumerate(head)
        ]
        head.sort(key=lambda c: -c.rank_score)
        return head + ranked[len(head) :]
