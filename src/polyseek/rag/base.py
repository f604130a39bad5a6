"""Answers from retrieved evidence: the vocabulary and the generator protocol.

An :class:`Evidence` is one retrieved item (numbered ``[1]``, ``[2]``... in prompts);
an :class:`Answer` is a list of sentences, each citing the evidence that supports it and,
in :attr:`AnswerSentence.spans`, the very sentence of that evidence that does
(:class:`CitedSpan`: its text and its own locator, not the chunk's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyseek.types import Locator, Modality, SearchResult

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder, EncoderInfo
    from polyseek.search.base import Query
    from polyseek.store.base import StoredItem

NO_ANSWER = "No answer in the collection."


class Searcher(Protocol):
    """What answering needs of a collection: its encoders, search, items and previews
    (an :class:`~polyseek.engine.Engine`)."""

    @property
    def encoder_infos(self) -> tuple[EncoderInfo, ...]: ...

    def encoder(self, info: EncoderInfo) -> Encoder: ...

    def search_batch(self, queries: Sequence[Query]) -> list[SearchResult]: ...

    def items(self, ids: Sequence[str]) -> dict[str, StoredItem]: ...

    def preview_file(self, item: StoredItem) -> Path | None: ...


@dataclass(frozen=True)
class Evidence:
    """One retrieved item offered to the answerer, with its citation id (``1``, ``2``...)."""

    id: int
    item_id: str
    source: str
    modality: Modality
    locator: Locator
    text: str
    score: float
    preview: Path | None = None  # stored preview image (thumbnail, page render), if any
    metadata: dict[str, Any] = field(default_factory=dict)  # the item's (``ocr``, ``title``)
    # The item's passages, ``(start, end)`` in ``text``: a sentence's neighbourhood is the
    # passages holding it (a 4,000-character section of a listing spans several papers).
    passages: tuple[tuple[int, int], ...] = ()

    def _over(self, start: int, end: int) -> list[tuple[int, int]]:
        return [(a, b) for a, b in self.passages if a < end and start < b]

    def covers(self, start: int, end: int) -> bool:
        """Whether a passage holds part of ``text[start:end]`` (always, without passages;
        a PDF page's running header or footer is in no passage)."""
        return not self.passages or bool(self._over(start, end))

    def near(self, start: int, end: int) -> str:
        """The text around ``text[start:end]``: the passages overlapping it (joined), else
        all of ``text`` (an item without passages, or a span no passage covers)."""
        spans = self._over(start, end)
        if not spans:
            return self.text
        return "\n".join(self.text[a:b] for a, b in spans)

    def citation(self) -> str:
        """``file (page 3)``: what a reader needs to find the evidence."""
        return f"{self.source} ({self.locator})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item_id": self.item_id,
            "source": self.source,
            "modality": self.modality,
            "locator": self.locator.to_dict(),
            "locator_text": str(self.locator),
            "score": self.score,
        }


@dataclass(frozen=True)
class CitedSpan:
    """The sentence of an evidence item that a citation points at.

    ``locator`` is the sentence's own place in its source: the item's locator narrowed to
    the sentence's characters (source offsets for text files; offsets into the page text,
    OCR text or transcript, beside the page or time range, otherwise).
    ``item_start``/``item_end`` are the same characters within the item's text (what the
    web UI highlights); ``score`` is how well the sentence answers the question
    (extractive) or supports the answer sentence (generated).
    """

    evidence_id: int
    source: str
    locator: Locator
    text: str
    item_start: int
    item_end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "evidence_id": self.evidence_id,
            "source": self.source,
            "locator": self.locator.to_dict(),
            "locator_text": str(self.locator),
            "text": self.text,
            "item_start": self.item_start,
            "item_end": self.item_end,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer, the evidence ids it cites and how well they support it.

    ``spans`` holds, per citation that supports it, the evidence sentence doing so.
    """

    text: str
    citations: tuple[int, ...]
    support: float  # answer score (extractive) or support of the best cited sentence
    supported: bool
    spans: tuple[CitedSpan, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "support": round(self.support, 4),
            "supported": self.supported,
            "spans": [s.to_dict() for s in self.spans],
        }


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns. ``answered`` is False when the evidence was too weak."""

    question: str
    answered: bool
    sentences: list[AnswerSentence]
    evidence: list[Evidence]
    method: str  # "extractive", "openai:<model>", "transformers:<path>"
    dropped: list[AnswerSentence] = field(default_factory=list)  # failed the post-check
    flagged: list[AnswerSentence] = field(default_factory=list)  # kept but unsupported

    @property
    def text(self) -> str:
        if not self.answered:
            return NO_ANSWER
        return " ".join(
            f"{s.text} {''.join(f'[{c}]' for c in s.citations)}" for s in self.sentences
        )

    def cited(self) -> list[Evidence]:
        """The evidence the kept sentences cite, in citation order."""
        ids = sorted({c for s in self.sentences for c in s.citations})
        by_id = {e.id: e for e in self.evidence}
        return [by_id[i] for i in ids if i in by_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "text": self.text,
            "method": self.method,
            "sentences": [s.to_dict() for s in self.sentences],
            "evidence": [e.to_dict() for e in self.evidence],
            "dropped": [s.to_dict() for s in self.dropped],
            "dropped_count": len(self.dropped),
            "flagged": [s.to_dict() for s in self.flagged],
        }


@dataclass(frozen=True)
class FewShotExample:
    """A worked example (question and a cited answer) that can be put into the prompt."""

    question: str
    answer: str


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user", "assistant"
    text: str
    images: tuple[Path, ...] = ()


class Generator(Protocol):
    """Writes an answer from chat messages; citations are checked afterwards."""

    name: str

    def generate(self, messages: list[ChatMessage]) -> str: ...
