"""The offline answerer: the evidence sentence that best answers the question, cited.

1. Score every sentence of the retrieved items (:class:`~polyseek.rag.scoring.SentenceScorer`).
2. No sentence scores ``threshold`` or more: the answer is "no answer in the collection"
   (abstaining beats quoting something merely nearby).
3. Prefer clean sources: when the best sentence is OCR text and a text-layer sentence
   within ``prefer_margin`` says the same (the same numbers, or near-identical meaning),
   quote the text layer.
4. Add up to ``max_sentences - 1`` further sentences only when nearly as good
   (``margin``) and not a near-duplicate of one already chosen.

Each quoted sentence cites its item and carries a :class:`~polyseek.rag.base.CitedSpan`:
the sentence's own characters in its source (and page), not the chunk's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from polyseek.rag.base import Answer, AnswerSentence, CitedSpan, Evidence
from polyseek.rag.defaults import DEFAULT_THRESHOLD
from polyseek.rag.lexical import numbers, terms
from polyseek.rag.scoring import Candidate, SentenceScorer, Weights
from polyseek.rag.sentences import sentence_locator

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.rerank.base import Reranker

logger = logging.getLogger(__name__)


def cited_span(c: Candidate, score: float | None = None) -> CitedSpan:
    e, s = c.evidence, c.sentence
    return CitedSpan(
        evidence_id=e.id,
        source=e.source,
        locator=sentence_locator(e.locator, s.start, s.end),
        text=s.text,
        item_start=s.start,
        item_end=s.end,
        score=c.score if score is None else score,
    )


def _same_fact(a: Candidate, b: Candidate) -> bool:
    """Whether two sentences state the same thing (for the clean-source preference)."""
    na, nb = numbers(a.sentence.text), numbers(b.sentence.text)
    if na and na <= nb:
        return True
    ta, tb = terms(a.sentence.text), terms(b.sentence.text)
    return bool(ta) and len(ta & tb) >= 0.8 * len(ta)


@dataclass(frozen=True)
class ExtractiveAnswerer:
    """Quote the best evidence sentence(s); see the module doc for the steps."""

    threshold: float = DEFAULT_THRESHOLD
    max_sentences: int = 2
    margin: float = 0.03
    prefer_margin: float = 0.25
    weights: Weights = field(default_factory=Weights)
    reranker: Reranker | None = None

    def answer(self, question: str, evidence: list[Evidence], encoder: Encoder) -> Answer:
        ranked = SentenceScorer(encoder, self.weights, self.reranker).score(question, evidence)
        best = max((c.score for c in ranked), default=0.0)
        logger.debug("extractive: %d sentences, best score %.3f", len(ranked), best)
        if best < self.threshold:
            return Answer(question, False, [], evidence, "extractive")
        ranked = [c for c in ranked if c.score >= self.threshold]
        lead = self._prefer_clean(ranked)
        chosen = [lead]
        for c in ranked:
            if len(chosen) >= self.max_sentences:
                break
            if c is lead or c.rank_score < lead.rank_score - self.margin:
                continue
            if any(_duplicate(c, x) for x in chosen):
                continue
            chosen.append(c)
        kept = [
            AnswerSentence(c.sentence.text, (c.evidence.id,), c.score, True, (cited_span(c),))
            for c in chosen
        ]
        return Answer(question, True, kept, evidence, "extractive")

    def _prefer_clean(self, ranked: list[Candidate]) -> Candidate:
        top = ranked[0]
        if not top.machine_read:
            return top
        for c in ranked[1:]:
            if c.rank_score < top.rank_score - self.prefer_margin:
                break
            if not c.machine_read and _same_fact(top, c):
                logger.debug(
                    "quoting the text layer %s over OCR of %s",
                    c.evidence.source,
                    top.evidence.source,
                )
                return c
        return top


def _duplicate(a: Candidate, b: Candidate) -> bool:
    ta, tb = terms(a.sentence.text), terms(b.sentence.text)
    if not ta or not tb:
        return a.sentence.text == b.sentence.text
    return len(ta & tb) / min(len(ta), len(tb)) >= 0.8
