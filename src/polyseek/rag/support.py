"""Does a cited evidence sentence support a generated sentence? Lexical, dense, and NLI.

A generated sentence is checked against every sentence (and every pair of neighbouring
sentences) of the evidence it cites:

- numbers: each number the claim states must appear in the evidence span (a changed
  number is the commonest unsupported claim, and embeddings barely see it);
- lexical: the share of the claim's content stems found in the span (IDF-weighted over
  the cited evidence);
- dense: cosine of claim and span, both embedded as documents;
- NLI (when a model is given): P(entailment) of span -> claim from a cross-encoder
  trained on natural language inference; the claim then also needs ``nli_threshold``.

``support = (dense + lexical) / 2``, 0 when a number is missing. The span with the best
support is the citation's :class:`~polyseek.rag.base.CitedSpan`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.errors import ConfigError, MissingDependencyError
from polyseek.hub import loading_model
from polyseek.rag.base import CitedSpan, Evidence
from polyseek.rag.defaults import DEFAULT_SUPPORT
from polyseek.rag.lexical import Weighted, numbers, terms
from polyseek.rag.sentences import Sentence, sentence_locator, split_sentences

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder

logger = logging.getLogger(__name__)


class NliModel:
    """A natural-language-inference cross-encoder (sentence-transformers ``CrossEncoder``):
    ``entailment(premises, hypotheses)`` gives P(entailment) per pair.

    The entailment class is found by name in the model's ``id2label`` (``entailment``,
    ``ENTAILMENT``, ``entails``...); a model without one is refused.
    """

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError(
                f"sentence-transformers cannot be imported: {exc}",
                hint="pip install sentence-transformers",
            ) from exc
        try:
            with loading_model(f"nli:{model}"):
                self.model = CrossEncoder(model)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the NLI model {model!r}: {exc}",
                hint="give a local folder with a sequence-classification NLI model "
                "(labels entailment/neutral/contradiction) and its tokenizer",
            ) from exc
        labels: dict[Any, str] = dict(self.model.config.id2label or {})
        found = [int(i) for i, name in labels.items() if str(name).lower().startswith("entail")]
        if not found:
            raise ConfigError(
                f"NLI model {model!r} has no entailment label (labels: {sorted(labels.values())})",
                hint="use a model fine-tuned for NLI, whose config names an 'entailment' label",
            )
        self.name = f"nli:{model}"
        self.entail_index = found[0]

    def entailment(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        if not premises:
            return np.zeros(0, dtype=np.float64)
        logits = np.asarray(
            self.model.predict(list(zip(premises, hypotheses, strict=True)), apply_softmax=False),
            dtype=np.float64,
        ).reshape(len(premises), -1)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return probs[:, self.entail_index]


@dataclass(frozen=True)
class Support:
    """The verdict on one generated sentence: its best supporting span per citation."""

    score: float  # the best support over every cited span
    spans: tuple[CitedSpan, ...]  # one per citation that supports the sentence, best first
    entailment: float | None  # P(entailment) of the best span, when an NLI model was given
    missing_numbers: tuple[str, ...]  # numbers of the claim that no cited span states


@dataclass(frozen=True)
class _Span:
    evidence: Evidence
    start: int
    end: int
    text: str


def _spans(e: Evidence) -> list[_Span]:
    """Each sentence of ``e``, and each pair of neighbouring sentences."""
    sentences: list[Sentence] = split_sentences(e.text)
    if not sentences and e.text.strip():
        text = " ".join(e.text.split())
        stripped = e.text.strip()
        start = e.text.index(stripped[0])
        return [_Span(e, start, start + len(stripped), text)]
    out = [_Span(e, s.start, s.end, s.text) for s in sentences]
    for a, b in zip(sentences, sentences[1:], strict=False):
        out.append(_Span(e, a.start, b.end, f"{a.text} {b.text}"))
    return out


class SupportChecker:
    """Checks generated sentences against the evidence they cite (see the module doc)."""

    def __init__(
        self,
        encoder: Encoder,
        threshold: float = DEFAULT_SUPPORT,
        nli: NliModel | None = None,
        nli_threshold: float = 0.5,
    ) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.nli = nli
        self.nli_threshold = nli_threshold

    def check(self, claim: str, cited: Sequence[Evidence]) -> Support:
        spans = [s for e in cited for s in _spans(e)]
        if not spans:
            return Support(0.0, (), None, ())
        texts = [s.text for s in spans]
        dense = np.asarray(
            self.encoder.embed_documents([claim]) @ self.encoder.embed_documents(texts).T,
            dtype=np.float64,
        )[0]
        weighted = Weighted.of(claim, [terms(t) for t in texts])
        stated = numbers(claim)
        scores = np.zeros(len(spans))
        missing_all = set(stated)
        for i, s in enumerate(spans):
            missing = stated - numbers(s.text)
            missing_all &= missing
            lexical = weighted.coverage(terms(s.text))
            scores[i] = 0.0 if missing else (float(dense[i]) + lexical) / 2.0
        entail: np.ndarray | None = None
        if self.nli is not None:
            entail = self.nli.entailment(texts, [claim] * len(texts))
        by_evidence: dict[int, tuple[float, int]] = {}
        for i, s in enumerate(spans):
            ok = scores[i] >= self.threshold and (
                entail is None or float(entail[i]) >= self.nli_threshold
            )
            if ok and scores[i] > by_evidence.get(s.evidence.id, (-1.0, -1))[0]:
                by_evidence[s.evidence.id] = (float(scores[i]), i)
        best = int(np.argmax(scores))
        chosen = sorted(by_evidence.values(), reverse=True)
        cited_spans = tuple(self._cited(spans[i], score) for score, i in chosen)
        return Support(
            float(scores[best]),
            cited_spans,
            float(entail[chosen[0][1] if chosen else best]) if entail is not None else None,
            tuple(sorted(missing_all)),
        )

    @staticmethod
    def _cited(span: _Span, score: float) -> CitedSpan:
        e = span.evidence
        return CitedSpan(
            evidence_id=e.id,
            source=e.source,
            locator=sentence_locator(e.locator, span.start, span.end),
            text=span.text,
            item_start=span.start,
            item_end=span.end,
            score=score,
        )
