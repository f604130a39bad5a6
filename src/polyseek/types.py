"""Modality types, items, hits and search results: defined once, used everywhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    import numpy as np
    from PIL.Image import Image

Modality = Literal["text", "image", "page", "video", "audio"]
"""What an item is: a text chunk, an image, a document page, a video moment, an audio span."""

MODALITIES: tuple[Modality, ...] = get_args(Modality)
MODALITY_CODES: dict[Modality, int] = {m: i for i, m in enumerate(MODALITIES)}
"""Small integer per modality (how vector tables in memory record an item's modality)."""


def check_modality(value: str) -> Modality:
    if value not in MODALITIES:
        from polyseek.errors import ConfigError

        raise ConfigError(
            f"unknown modality {value!r}", hint=f"valid modalities: {', '.join(MODALITIES)}"
        )
    return value  # type: ignore[return-value]


def _fmt_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Locator:
    """Where inside its source an item lies. Unused fields stay ``None``."""

    page: int | None = None  # 1-based page number
    char_start: int | None = None  # offsets into the source's extracted text
    char_end: int | None = None
    start_s: float | None = None  # time range in seconds
    end_s: float | None = None
    bbox: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 (PDF points)
    # A layout region inside a page: its kind ("text", "title", "list", "table",
    # "figure", ...) and its 1-based number among the regions of that kind on the page.
    region: str | None = None
    region_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Locator:
        data = dict(data)
        if data.get("bbox") is not None:
            data["bbox"] = tuple(data["bbox"])
        return cls(**data)

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __str__(self) -> str:
        parts = []
        if self.page is not None and self.region is not None:
            number = f" {self.region_index}" if self.region_index is not None else ""
            parts.append(f"page {self.page} · {self.region}{number}")
        elif self.page is not None:
            parts.append(f"page {self.page}")
        if self.char_start is not None and self.char_end is not None:
            parts.append(f"chars {self.char_start}-{self.char_end}")
        if self.start_s is not None and self.end_s is not None:
            parts.append(f"{_fmt_time(self.start_s)}-{_fmt_time(self.end_s)}")
        if self.bbox is not None:
            parts.append("bbox " + ",".join(f"{v:g}" for v in self.bbox))
        return ", ".join(parts) or "whole file"


def item_id(source: str, locator: Locator) -> str:
    """Stable id of an item: the same file and place always give the same id."""
    return hashlib.sha1(f"{source}\x00{locator.key()}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Passage:
    """A span of an item's text embedded on its own (a long page gets several).

    ``char_start``/``char_end`` index into the item's ``text``; ``bbox`` is where the
    span lies on its page (PDF points), when known.
    """

    char_start: int
    char_end: int
    bbox: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Item:
    """One searchable unit cut from a source file, with its provenance."""

    source: str  # path relative to the collection root, '/'-separated
    modality: Modality
    locator: Locator = field(default_factory=Locator)
    text: str = ""  # body, OCR text or page text layer
    image: Image | None = None  # pixels for image encoders and previews (not persisted)
    metadata: dict[str, Any] = field(default_factory=dict)
    # More pictures of the same item (a video moment's keyframes, ``image`` first), embedded
    # and pooled into one vector by image-text encoders (not persisted).
    keyframes: list[Image] = field(default_factory=list)
    # The sound of a time span (16 kHz mono float32), for audio-text encoders (not persisted).
    audio: np.ndarray | None = None
    # Spans of ``text`` that text encoders embed one by one (one vector row each), so a
    # page longer than the encoder's window is searchable all through; empty: the whole
    # text is one vector.
    passages: list[Passage] = field(default_factory=list)

    @property
    def id(self) -> str:
        return item_id(self.source, self.locator)


@dataclass(frozen=True)
class Hit:
    """One ranked result. ``signals`` says how much each signal contributed to ``score``."""

    rank: int
    score: float
    item_id: str
    modality: Modality
    source: str
    locator: Locator
    snippet: str
    signals: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    preview: str | None = None  # path of a stored preview image (thumbnail, page render)
    # Each signal's part of ``score`` (lexical, each encoder, calibration, reranker): they
    # sum to it. A signal that cannot score the item (no text, no picture) has no part.
    contributions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": self.score,
            "item_id": self.item_id,
            "modality": self.modality,
            "source": self.source,
            "locator": self.locator.to_dict(),
            "locator_text": str(self.locator),
            "snippet": self.snippet,
            "signals": self.signals,
            "contributions": self.contributions,
            "metadata": self.metadata,
            "preview": self.preview,
        }


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query: ranked hits plus what was asked."""

    query: dict[str, Any]
    hits: list[Hit]

    def __len__(self) -> int:
        return len(self.hits)

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "hits": [h.to_dict() for h in self.hits]}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)
