"""Evaluation data model: documents, queries, relevance judgements, tasks.

Both input formats (BEIR, M-BEIR) load into one :class:`EvalDataset`. A *task* groups
queries that share a query and target modality (M-BEIR task ids: text->image,
image->text, image+text->image, ...); a BEIR dataset is one text->text task. Each task
may have its own *local* candidate pool; the *union* pool holds every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from polyseek.types import Modality

# M-BEIR's task ids (UniIR, Wei et al. 2023): query modality -> candidate modality.
MBEIR_TASKS: dict[str, tuple[str, str]] = {
    "0": ("text", "image"),
    "1": ("text", "text"),
    "2": ("text", "image,text"),
    "3": ("image", "text"),
    "4": ("image", "image"),
    "5": ("image,text", "text"),
    "6": ("image,text", "image"),
    "7": ("image,text", "image,text"),
}


def task_name(query_modality: str, target_modality: str) -> str:
    def short(m: str) -> str:
        return "+".join(sorted(m.split(","), reverse=True)) if "," in m else m

    return f"{short(query_modality)}->{short(target_modality)}"


@dataclass(frozen=True)
class EvalDoc:
    """One candidate: text, an image, or both (an image with its caption)."""

    id: str
    modality: Modality  # as polyseek stores it: "image" for image and image+text candidates
    text: str = ""
    image_path: Path | None = None


@dataclass(frozen=True)
class EvalQuery:
    id: str
    task: str
    text: str | None = None
    image_path: Path | None = None


@dataclass(frozen=True)
class EvalTask:
    id: str
    name: str  # e.g. "text->image"
    target_modality: Modality  # the polyseek modality relevant candidates have
    pool: frozenset[str] | None = None  # local candidate pool (doc ids); None: the union


@dataclass
class EvalDataset:
    name: str
    format: str  # "beir" | "mbeir"
    path: Path
    docs: dict[str, EvalDoc]
    queries: list[EvalQuery]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance
    tasks: dict[str, EvalTask] = field(default_factory=dict)

    def queries_of(self, task: str) -> list[EvalQuery]:
        return [q for q in self.queries if q.task == task]


class DatasetLoader(Protocol):
    def __call__(self, path: Path, *, split: str = "test") -> EvalDataset: ...
