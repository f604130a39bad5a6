"""Answers from retrieved evidence: the vocabulary and the generator protocol.

An :class:`Evidence` is one retrieved item (numbered ``[1]``, ``[2]``... in prompts);
an :class:`Answer` is a list of sentences, each citing the evidence that supports it.
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
class AnswerSentence:
    """One sentence of an answer, the evidence ids it cites and how well they support it."""

    text: str
    citations: tuple[int, ...]
    support: float  # text-encoder similarity between the sentence and its best cited evidence
    supported: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "support": round(self.support, 4),
            "supported": self.supported,
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
