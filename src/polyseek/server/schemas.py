"""Request and response bodies of the REST API (published in its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from polyseek.types import Hit

ModalityName = Literal["text", "image", "page", "video", "audio"]


class LocatorOut(BaseModel):
    page: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    bbox: list[float] | None = None


class HitOut(BaseModel):
    rank: int
    score: float
    item_id: str
    modality: ModalityName
    source: str
    locator: LocatorOut
    locator_text: str
    snippet: str
    signals: dict[str, float]
    metadata: dict[str, Any]
    preview_url: str | None = Field(None, description="Thumbnail or page render, if stored")
    file_url: str = Field(description="The original file (supports HTTP range requests)")


class SearchOut(BaseModel):
    query: dict[str, Any]
    hits: list[HitOut]


class ItemOut(BaseModel):
    item_id: str
    modality: ModalityName
    source: str
    locator: LocatorOut
    locator_text: str
    text: str
    metadata: dict[str, Any]
    preview_url: str | None
    file_url: str


class IndexRequest(BaseModel):
    paths: list[str] | None = Field(
        None, description="Collection-relative files or folders; all of the collection if null"
    )


class SourcesRequest(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=1000)


class RemovedOut(BaseModel):
    removed: int


class JobOut(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    paths: list[str] | None
    total_files: int
    files_done: int
    items: int
    started_at: float | None
    finished_at: float | None
    report: dict[str, Any] | None
    error: str | None
    runs: int


class FailedSource(BaseModel):
    path: str
    reason: str


class StatusOut(BaseModel):
    root: str
    encoders: list[dict[str, Any]]
    sources: int
    failed: list[FailedSource]
    items: dict[str, int]
    disk_bytes: int
    index: JobOut
    generator: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    auth: bool


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    top: int = Field(8, ge=1, le=50)


class EvidenceOut(BaseModel):
    id: int
    item_id: str
    source: str
    modality: ModalityName
    locator: LocatorOut
    locator_text: str
    score: float
    file_url: str


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    support: float
    supported: bool


class AnswerOut(BaseModel):
    question: str
    answered: bool
    text: str
    method: str
    sentences: list[SentenceOut]
    evidence: list[EvidenceOut]
    dropped: list[SentenceOut]
    flagged: list[SentenceOut]


class ErrorDetail(BaseModel):
    status: int
    message: str
    hint: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


def file_url(source: str) -> str:
    return "/api/files/" + quote(source)


def preview_url(item_id: str) -> str:
    return f"/api/items/{item_id}/preview"


def hit_out(hit: Hit) -> HitOut:
    return HitOut(
        rank=hit.rank,
        score=hit.score,
        item_id=hit.item_id,
        modality=hit.modality,
        source=hit.source,
        locator=LocatorOut(**hit.locator.to_dict()),
        locator_text=str(hit.locator),
        snippet=hit.snippet,
        signals=hit.signals,
        metadata=hit.metadata,
        preview_url=preview_url(hit.item_id) if hit.preview else None,
        file_url=file_url(hit.source),
    )
