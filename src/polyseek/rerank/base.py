"""The reranker protocol: score (query, candidate) pairs; higher means more relevant."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from polyseek.types import Modality


@dataclass(frozen=True)
class Candidate:
    """What a reranker sees of an item: its text and, where stored, a preview image."""

    item_id: str
    modality: Modality
    text: str
    image_path: Path | None = None


class Reranker(ABC):
    """Re-scores the top of a ranked list. ``name`` appears in hit signals and reports."""

    name: str

    @abstractmethod
    def score(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        """One relevance score per candidate, in order."""

    def describe(self) -> dict[str, str]:
        return {"reranker": self.name}
