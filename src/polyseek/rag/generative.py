"""Answers written by a generator, then post-checked against the evidence they cite.

The generator sees numbered evidence and must end every sentence with the ids it relies
on. Each sentence of its reply is then checked (:class:`~polyseek.rag.support.SupportChecker`:
numbers, words, embeddings, and an NLI cross-encoder when one is given) against the
sentences of the evidence it cites: it keeps only the citations whose sentence supports
it, each with that sentence's span; a sentence that no citation supports is dropped (and
counted in ``Answer.dropped``), or kept and listed in ``Answer.flagged`` with
``policy="flag"``. When no evidence sentence scores the extractive ``threshold`` the
generator is not called at all.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from polyseek.encoders.base import Encoder
from polyseek.rag.base import (
    Answer,
    AnswerSentence,
    ChatMessage,
    Evidence,
    FewShotExample,
    Generator,
)
from polyseek.rag.defaults import DEFAULT_SUPPORT, DEFAULT_THRESHOLD
from polyseek.rag.evidence import similarities
from polyseek.rag.scoring import SentenceScorer, Weights
from polyseek.rag.support import NliModel, SupportChecker

logger = logging.getLogger(__name__)

NO_ANSWER_TOKEN = "NO_ANSWER"
_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_ANSWER_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z])|\n+")

SYSTEM_PROMPT = (
    "You answer questions using only the numbered evidence you are given. "
    "End every sentence with the ids of the evidence that supports it in square brackets, "
    "for example [1] or [2][3]. Do not use outside knowledge. If the evidence does not "
    f"answer the question, reply exactly {NO_ANSWER_TOKEN}."
)
IMAGE_MODALITIES = ("image", "page", "video")
MAX_EVIDENCE_CHARS = 1500


def build_messages(
    question: str,
    evidence: list[Evidence],
    examples: list[FewShotExample] = [],  # noqa: B006
) -> list[ChatMessage]:
    """System rules, few-shot examples as earlier turns, then the evidence and question."""
    messages = [ChatMessage("system", SYSTEM_PROMPT)]
    for ex in examples:
        messages.append(ChatMessage("user", f"Question: {ex.question}"))
        messages.append(ChatMessage("assistant", ex.answer))
    blocks = []
    images = []
    for e in evidence:
        body = " ".join(e.text.split())[:MAX_EVIDENCE_CHARS] or "(no text; see the image)"
        blocks.append(f"[{e.id}] {e.citation()}\n{body}")
        if e.modality in IMAGE_MODALITIES and e.preview is not None and e.preview.is_file():
            images.append(e.preview)
    user = "Evidence:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    messages.append(ChatMessage("user", user, tuple(images)))
    return messages


def parse_sentences(reply: str) -> list[tuple[str, tuple[int, ...]]]:
    """Split a reply into (sentence without citations, cited ids) pairs."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for part in _ANSWER_SENTENCE_END.split(reply.strip()):
        ids: list[int] = []
        for m in _CITATION.finditer(part):
            ids.extend(int(x) for x in re.split(r"[,;]", m.group(1)))
        text = " ".join(_CITATION.sub("", part).split())
        text = re.sub(r"\s+([.!?,;:])", r"\1", text)
        if not text:
            if ids and out:  # citations on their own after a sentence belong to it
                prev_text, prev_ids = out[-1]
                out[-1] = (prev_text, tuple(dict.fromkeys((*prev_ids, *ids))))
            continue
        out.append((text, tuple(dict.fromkeys(ids))))
    return out


def select_examples(
    examples: list[FewShotExample], question: str, encoder: Encoder, k: int = 2
) -> list[FewShotExample]:
    """The ``k`` examples whose questions are most similar to ``question``."""
    if len(examples) <= k:
        return list(examples)
    sims = similarities(encoder, [question], [e.question for e in examples])[0]
    best = sorted(range(len(examples)), key=lambda i: -float(sims[i]))[:k]
    return [examples[i] for i in sorted(best)]


@dataclass
class GenerativeAnswerer:
    """Prompt a generator with numbered evidence, then check each sentence's citations
    (see the module doc)."""

    generator: Generator
    threshold: float = DEFAULT_THRESHOLD  # evidence gate: below it, "no answer" without generating
    support_threshold: float = DEFAULT_SUPPORT
    policy: Literal["drop", "flag"] = "drop"
    examples: list[FewShotExample] = field(default_factory=list)
    n_examples: int = 2
    nli: NliModel | None = None
    nli_threshold: float = 0.5
    weights: Weights = field(default_factory=Weights)

    def answer(self, question: str, evidence: list[Evidence], encoder: Encoder) -> Answer:
        method = self.generator.name
        ranked = SentenceScorer(encoder, self.weights).score(question, evidence)
        best = max((c.score for c in ranked), default=0.0)
        if best < self.threshold:
            logger.info("evidence too weak (best sentence %.3f): not generating", best)
            return Answer(question, False, [], evidence, method)
        examples = select_examples(self.examples, question, encoder, self.n_examples)
        reply = self.generator.generate(build_messages(question, evidence, examples))
        logger.debug("generator reply: %r", reply)
        if reply.strip().upper().startswith(NO_ANSWER_TOKEN):
            return Answer(question, False, [], evidence, method)
        checker = SupportChecker(encoder, self.support_threshold, self.nli, self.nli_threshold)
        by_id = {e.id: e for e in evidence}
        checked = [self._check(checker, text, ids, by_id) for text, ids in parse_sentences(reply)]
        bad = [s for s in checked if not s.supported]
        if self.policy == "flag":
            kept, dropped, flagged = checked, [], bad
        else:
            kept, dropped, flagged = [s for s in checked if s.supported], bad, []
        if bad:
            logger.info("post-check: %d of %d sentences unsupported", len(bad), len(checked))
        return Answer(question, bool(kept), kept, evidence, method, dropped, flagged)

    @staticmethod
    def _check(
        checker: SupportChecker, text: str, ids: tuple[int, ...], by_id: dict[int, Evidence]
    ) -> AnswerSentence:
        cited = [by_id[i] for i in ids if i in by_id]
        if not cited:
            return AnswerSentence(text, ids, 0.0, False)
        verdict = checker.check(text, cited)
        if not verdict.spans:
            return AnswerSentence(text, ids, verdict.score, False)
        supporting = tuple(dict.fromkeys(s.evidence_id for s in verdict.spans))
        return AnswerSentence(text, supporting, verdict.score, True, verdict.spans)
