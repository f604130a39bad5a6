"""Search protocol pieces: a query, ranked candidate lists, and a fuser that merges them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyseek.types import Modality

if TYPE_CHECKING:
    from PIL.Image import Image

    from polyseek.rerank.base import Reranker
    from polyseek.search.cutoff import Cutoff


@dataclass(frozen=True)
class Query:
    """A search request. Give ``text``, ``image`` or both (a composed query)."""

    text: str | None = None
    image: Image | Path | str | None = None
    top: int = 10
    modalities: tuple[Modality, ...] = ()
    image_weight: float = 0.5  # share of the image in a composed (image + text) query
    encoders: tuple[str, ...] = ()  # restrict to these encoder specs (default: all that apply)
    exact: bool | None = None  # True: exhaustive search; None: ANN index when the store has one
    # Ranking options (see polyseek.search.lexical / calibration / cutoff, polyseek.rerank):
    dense: bool = True  # embedding search (False with lexical=True: lexical only)
    lexical: bool = False  # BM25 over item text, fused with the dense lists
    fusion: str = "zscore"  # hybrid rule: "zscore" (linear mix, search/hybrid.py) or "rrf"
    lexical_weight: float = 0.5  # share of the lexical list in the "zscore" mix
    calibrate: bool = False  # standardise scores per encoder and item modality
    # "hubness" (per-query statistics of hubness-corrected scores), "query" or "collection"
    calibration: str = "hubness"
    rerank: Reranker | None = None  # re-score the top ``rerank_depth`` candidates
    rerank_depth: int = 30
    # Share of the reranker in the head's final score: 1.0 ranks by the reranker alone;
    # below 1, a mix of the reranker's and the first stage's scores, each standardised
    # over the head (search/ranking.py: rerank).
    rerank_weight: float = 1.0
    cutoff: Cutoff | None = None  # return fewer hits when scores fall off
    # Compressed first pass + exact rescoring (polyseek.store.quantized): "none" (exact
    # float32), "truncate:N", "int8" or "binary"; ``oversample``: candidates = top x this
    first_pass: str = "none"
    oversample: int = 10

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"top": self.top}
        if self.text is not None:
            out["text"] = self.text
        if self.image is not None:
            out["image"] = str(self.image) if isinstance(self.image, (str, Path)) else "<image>"
        if self.modalities:
            out["modalities"] = list(self.modalities)
        if self.text is not None and self.image is not None:
            out["image_weight"] = self.image_weight
        if not self.dense:
            out["dense"] = False
        if self.lexical:
            out["lexical"] = True
            out["fusion"] = self.fusion
        if self.calibrate:
            out["calibrate"] = self.calibration
        if self.rerank is not None:
            out["rerank"] = self.rerank.name
            if self.rerank_weight != 1.0:
                out["rerank_weight"] = self.rerank_weight
        if self.cutoff is not None:
            out["cutoff"] = self.cutoff.describe()
        if self.first_pass != "none":
            out["first_pass"] = self.first_pass
            out["oversample"] = self.oversample
        return out


Ranked = Sequence[tuple[str, float]]
"""(item id, score) pairs, best first."""


@dataclass(frozen=True)
class Fused:
    item_id: str
    score: float
    signals: dict[str, float] = field(default_factory=dict)


class Fuser(Protocol):
    def fuse(self, lists: Mapping[str, Ranked], k: int) -> list[Fused]:
        """Merge named ranked lists (signal name -> ranking) into one list of ``k``."""
        ...
