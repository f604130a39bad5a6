"""The offline answerer: the evidence sentences that best answer the question, cited."""

from __future__ import annotations

import logging
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

    def answer(self, question: str, evidence: list[Evidence], encoder: Encoder) -> Answer:
        sentences = evidence_sentences(evidence)
        sims = similarities(encoder, [question], [s.text for s in sentences])[0]
        best = float(sims.max()) if len(sims) else 0.0
        logger.debug("extractive: %d sentences, best similarity %.3f", len(sentences), best)
        if best < self.threshold:
            return Answer(question, False, [], evidence, "extractive")
        candidates = [int(i) for i in np.argsort(-sims, kind="stable")[: 4 * self.max_sentences]]
        vecs = encoder.embed_documents([sentences[i].text for i in candidates])
        floor = max(self.threshold, best - self.margin)
        chosen: list[int] = []  # positions in candidates
        for pos, i in enumerate(candidates):
            if len(chosen) == self.max_sentences or sims[i] < floor:
                break
            # Another item's sentence joins only when nearly as good as the best one.
            other = sentences[i].evidence_id != sentences[candidates[0]].evidence_id
            if other and sims[i] < best - self.margin / 3:
                continue
            if any(float(vecs[pos] @ vecs[p]) > self.duplicate for p in chosen):
                continue
            chosen.append(pos)
        kept = [
            AnswerSentence(sentences[i].text, (sentences[i].evidence_id,), float(sims[i]), True)
            for i in (candidates[p] for p in chosen)
        ]
        return Answer(question, True, kept, evidence, "extractive")
