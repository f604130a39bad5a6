"""Request and response bodies of the REST API (published in its OpenAPI schema)."""

from __future__ import annotations

from dataclasses import MISSING
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from polyseek.search.base import Ranking, field_default, ranking_fields
from polyseek.types import Hit

ModalityName = Literal["text", "image", "page", "video", "audio"]


_REST_TYPES: dict[str, Any] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "bool | None": bool | None,
    "tuple[str, ...]": list[str] | None,
}


def _ranking_fields() -> dict[str, Any]:
    """Pydantic fields for every :class:`Ranking` option (the one declaration)."""
    out: dict[str, Any] = {}
    for f in ranking_fields():
        meta = f.metadata
        declared = str(f.type)
        kind: Any = _REST_TYPES.get(declared, str | None)  # objects (a reranker): by spec
        if meta.get("choices"):
            kind = Literal[meta["choices"]]  # type: ignore[valid-type]
        default = field_default(f)
        if declared.startswith("tuple"):
            default = None
        out[f.name] = (
            kind,
            Field(default, description=meta["help"], ge=meta.get("ge"), le=meta.get("le")),
        )
    return out


def ranking_from(params: BaseModel) -> Ranking:
    """The :class:`Ranking` a request's parameters ask for (every field is optional)."""
    names = {f.name for f in ranking_fields()}
    options = {k: v for k, v in params.model_dump().items() if k in names}
    if options.get("encoders") is None:
        options.pop("encoders", None)
    return Ranking.from_options(options)


def search_models(max_top: int) -> tuple[type[BaseModel], type[BaseModel]]:
    """(query parameters of ``GET /api/search``, form of ``POST /api/search``).

    Both take every ranking option; unknown parameters are refused (422) so that a typo
    does not silently search with the defaults.
    """
    common: dict[str, Any] = {
        "top": (int, Field(10, ge=1, le=max_top, description="How many results")),
        "modality": (list[ModalityName] | None, Field(None, description="Only these modalities")),
        "source": (str | None, Field(None, max_length=1000, description="Path prefix")),
        **_ranking_fields(),
    }
    get = create_model(
        "SearchParams",
        __config__=ConfigDict(extra="forbid"),
        q=(str, Field(min_length=1, max_length=2000, description="Text query")),
        **common,
    )
    post = create_model(
        "SearchForm",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        text=(str | None, Field(None, max_length=2000, description="Text query or modifier")),
        image=(UploadFile | None, Field(None, description="Query image")),
        clip=(
            UploadFile | None,
            Field(
                None,
                description="Query audio or video clip (as `polyseek search --video`): a "
                "video is matched by its keyframes (an image-text encoder), a sound by an "
                "audio-text encoder (CLAP)",
            ),
        ),
        image_weight=(float, Field(0.5, ge=0.0, le=1.0, description="Image share")),
        **common,
    )
    return get, post


class RankingOptionOut(BaseModel):
    name: str
    type: str
    default: Any
    help: str
    choices: list[str] = []
    min: float | None = None
    max: float | None = None


def ranking_options_out() -> list[RankingOptionOut]:
    """The ranking options as data, for clients that build their own controls (the UI)."""
    out = []
    for f in ranking_fields():
        meta = f.metadata
        default = field_default(f) if f.default is not MISSING or f.default_factory else None
        out.append(
            RankingOptionOut(
                name=f.name,
                type=str(f.type),
                default=list(default) if isinstance(default, tuple) else default,
                help=meta["help"],
                choices=list(meta.get("choices") or ()),
                min=meta.get("ge"),
                max=meta.get("le"),
            )
        )
    return out


class LocatorOut(BaseModel):
    page: int | None = None
    region: str | None = None
    region_index: int | None = None
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
    contributions: dict[str, float] = Field(
        default_factory=dict, description="Each signal's part of the score (they sum to it)"
    )
    metadata: dict[str, Any]
    preview_url: str | None = Field(None, description="Thumbnail or page render, if stored")
    preview_path: str | None = Field(
        None, description="The stored preview's path inside the index folder, if any"
    )
    file_url: str = Field(description="The original file (supports HTTP range requests)")


class SearchOut(BaseModel):
    query: dict[str, Any]
    hits: list[HitOut]
    terms: list[str] = Field(
        default_factory=list,
        description="The query's content words (stopwords dropped): what to highlight",
    )


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
    page_preview_url: str | None = Field(
        None, description="For a layout region: the render of its page (draw its bbox on it)"
    )


class IndexRequest(BaseModel):
    """What to index: ``{"all": true}`` (the whole collection) or ``{"paths": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Collection-relative files or folders (folders: every file under them)",
    )
    all: bool = Field(False, description="Index the whole collection")

    @model_validator(mode="after")
    def _one_of(self) -> IndexRequest:
        if self.all == (self.paths is not None):
            raise ValueError('give either "paths" or "all": true (a full run is asked for)')
        return self


class SourcesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(
        min_length=1, max_length=1000, description="Collection-relative files or folders"
    )


class SessionOut(BaseModel):
    media_cookie: str = Field(description="Name of the HttpOnly cookie just set")


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


AskRequest = create_model(
    "AskRequest",
    __config__=ConfigDict(extra="forbid"),
    question=(str, Field(min_length=1, max_length=2000)),
    top=(int, Field(8, ge=1, le=50, description="Evidence items to retrieve")),
    **_ranking_fields(),
)
"""``POST /api/ask``: the question, how much evidence, and how to search for it."""


class EvidenceOut(BaseModel):
    id: int
    item_id: str
    source: str
    modality: ModalityName
    locator: LocatorOut
    locator_text: str
    score: float
    file_url: str


class SpanOut(BaseModel):
    """The evidence sentence a citation points at: its own locator (characters in the
    source file, or in the page / OCR text), and the same characters within the item's
    text (``item_start``/``item_end``: what the UI highlights)."""

    evidence_id: int
    source: str
    locator: LocatorOut
    locator_text: str
    text: str
    item_start: int
    item_end: int
    score: float


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    support: float
    supported: bool
    spans: list[SpanOut] = []


class AnswerOut(BaseModel):
    question: str
    answered: bool
    text: str
    method: str
    sentences: list[SentenceOut]
    evidence: list[EvidenceOut]
    dropped: list[SentenceOut]
    dropped_count: int = 0
    flagged: list[SentenceOut]
    terms: list[str] = Field(
        default_factory=list,
        description="The query's content words (stopwords dropped): what to highlight",
    )


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


def hit_out(hit: Hit, store: Path | None = None) -> HitOut:
    """``hit`` as REST returns it; with the index folder ``store``, the stored preview's
    path relative to it (the CLI rebuilds the very :class:`Hit` a local search gives)."""
    relative = None
    if hit.preview and store is not None and Path(hit.preview).is_relative_to(store):
        relative = Path(hit.preview).relative_to(store).as_posix()
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
        contributions=hit.contributions,
        metadata=hit.metadata,
        preview_url=preview_url(hit.item_id) if hit.preview else None,
        preview_path=relative,
        file_url=file_url(hit.source),
    )
