"""The offline answerer: the evidence sentences that best answer the question, cited."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from polyseek.encoders.base import Encoder
from polyseek.rag.base import Answer, AnswerSentence, Evidence
from polyseek.rag.evidence import evidence_sentences, similarities

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractiveAnswerer:
    """Select and order evidence sentences by text-encoder similarity to the question.

    ``threshold``: below this similarity for the best sentence the answer is "no answer
    in the collection". ``margin``: further sentences must score within this of the best.
    """

    threshold: float = 0.35
    max_sentences: int = 3
    margin: float = 0.1
    duplicate: float = 0.92  # sentences this similar to a selected one are skipped
    lexical_weight: float = 0.15

    def answer(self, question: str, evidence: list[Evidence], encoder: Encoder) -> Answer:
        sentences = evidence_sentences(evidence)
        sims = similarities(encoder, [question], [s.text for s in sentences])[0]
        best = float(sims.max()) if len(sims) else 0.0
        logger.debug("extractive: %d sentences, best similarity %.3f", len(sentences), best)
        if best < self.threshold:
            return Answer(question, False, [], evidence, "extractive")
        # Rank by similarity plus a small bonus for the question's words (hybrid scoring);
        # the no-answer gate above uses the similarity alone, which is calibrated.
        ranked = sims + self.lexical_weight * _overlap(question, [s.text for s in sentences])
        candidates = [int(i) for i in np.argsort(-ranked, kind="stable")[: 4 * self.max_sentences]]
        vecs = encoder.embed_documents([sentences[i].text for i in candidates])
        floor = float(ranked[candidates[0]]) - self.margin
        chosen: list[int] = []  # positions in candidates
        for pos, i in enumerate(candidates):
            if len(chosen) == self.max_sentences:
                break
            if ranked[i] < floor or sims[i] < self.threshold - self.margin:
                continue
            if chosen:
                # Another item's sentence joins only when nearly as good as the first one.
                lead = candidates[chosen[0]]
                other = sentences[i].evidence_id != sentences[lead].evidence_id
                if other and ranked[i] < ranked[lead] - self.margin / 10:
                    continue
                if any(float(vecs[pos] @ vecs[p]) > self.duplicate for p in chosen):
                    continue
            chosen.append(pos)
        kept = [
            AnswerSentence(sentences[i].text, (sentences[i].evidence_id,), float(sims[i]), True)
            for i in (candidates[p] for p in chosen)
        ]
        return Answer(question, True, kept, evidence, "extractive")


_WORD = re.compile(r"\w{4,}")


def _overlap(question: str, sentences: list[str]) -> np.ndarray:
    """Share of the question's words (4+ letters, any case) found in each sentence."""
    words = {w.lower() for w in _WORD.findall(question)}
    if not words:
        return np.zeros(len(sentences), dtype=np.float32)
    return np.array(
        [len(words & {w.lower() for w in _WORD.findall(s)}) / len(words) for s in sentences],
        dtype=np.float32,
    )
