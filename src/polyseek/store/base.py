"""The store protocol: items, their vectors per encoder, and the record of indexed sources.

Crash safety rests on one rule: an item is visible only when the ``sources`` record of
its file names the same ``gen`` (generation) as the item. Writers add items and vectors
first, then commit by upserting the source records (one atomic write), then delete what
the new generation replaced. A process killed at any point leaves at worst invisible
rows, which :meth:`Store.recover` deletes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.store.quantized import FirstPass
from polyseek.store.uri import StoreLocation
from polyseek.types import MODALITIES, MODALITY_CODES, Item, Locator, Modality, Passage

FORMAT_VERSION = 2  # 2: item passages and vector-row parts (v1 indexes still open)

SourceStatus = Literal["ok", "failed"]
T = TypeVar("T")


@dataclass(frozen=True)
class SourceRecord:
    """What the index knows about one source file."""

    path: str  # collection-relative, '/'-separated
    content_hash: str
    size: int
    mtime_ns: int
    gen: str
    status: SourceStatus
    error: str = ""
    n_items: int = 0
    indexed_at: float = 0.0


@dataclass
class StoredItem:
    """An item as stored: everything but the pixels (those live in the preview file)."""

    id: str
    source: str
    gen: str
    modality: Modality
    locator: Locator
    text: str
    metadata: dict[str, Any]
    preview: str | None = None  # path relative to the store directory
    # Spans of ``text`` embedded one by one (vector row k of this item is passage k).
    passages: list[Passage] = field(default_factory=list)

    @classmethod
    def from_item(cls, item: Item, gen: str, preview: str | None) -> StoredItem:
        return cls(
            id=item.id,
            source=item.source,
            gen=gen,
            modality=item.modality,
            locator=item.locator,
            text=item.text,
            metadata=item.metadata,
            preview=preview,
            passages=list(item.passages),
        )

    def passage_locator(self, k: int) -> Locator:
        """Where passage ``k`` lies: its characters in the source (or page) and its box."""
        p = self.passages[k]
        loc = self.locator
        start = (loc.char_start or 0) + p.char_start if loc.page is None else p.char_start
        end = start + (p.char_end - p.char_start)
        return replace(loc, char_start=start, char_end=end, bbox=p.bbox or loc.bbox)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "gen": self.gen,
            "modality": self.modality,
            "locator": json.dumps(self.locator.to_dict()),
            "text": self.text,
            "metadata": json.dumps(self.metadata, default=str),
            "preview": self.preview,
            "passages": json.dumps([p.to_dict() for p in self.passages]) if self.passages else "",
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredItem:
        return cls(
            id=row["id"],
            source=row["source"],
            gen=row["gen"],
            modality=row["modality"],
            locator=Locator.from_dict(json.loads(row["locator"])),
            text=row["text"],
            metadata=json.loads(row["metadata"]),
            preview=row["preview"],
            passages=_passages(row.get("passages")),
        )


def _passages(data: str | None) -> list[Passage]:
    if not data:
        return []
    out = []
    for p in json.loads(data):
        bbox = p.get("bbox")
        out.append(Passage(p["char_start"], p["char_end"], tuple(bbox) if bbox else None))
    return out


@dataclass
class SourceBatch:
    """One atomic unit of indexing: new source records, their items and vectors."""

    records: list[SourceRecord] = field(default_factory=list)
    items: list[StoredItem] = field(default_factory=list)
    # encoder key -> (item ids, vectors) for the items that encoder embedded
    vectors: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)


_NO_ROWS = np.zeros(0, dtype=np.int64)


def query_scores(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``queries @ matrix.T`` (one row of scores per query); a single query as a
    matrix-vector product (BLAS gemv), about a third faster than a one-row matrix product."""
    queries = np.asarray(queries, dtype=np.float32)
    if len(queries) == 1:
        return (matrix @ queries[0])[None, :]
    return queries @ matrix.T


@dataclass(frozen=True)
class VectorView:
    """The visible vectors of one encoder, in memory: what exact search and calibration read.

    Rows are item vectors (an item may own several rows: passages, keyframes); ``ids`` and
    ``modality`` (codes of :data:`polyseek.types.MODALITY_CODES`) say whose each row is.
    ``version`` changes whenever the rows may have (a write or a commit), so anything
    derived from a view can be cached under ``(store path, encoder_key, version)``.
    ``compressed`` holds first-pass copies of ``matrix`` (:mod:`polyseek.store.quantized`).
    """

    encoder_key: str
    version: tuple[int, ...]
    ids: np.ndarray  # object array of item ids, one per row
    modality: np.ndarray  # int8 modality codes, one per row
    matrix: np.ndarray  # float32 (rows, dim), L2-normalised
    compressed: dict[str, Any] = field(default_factory=dict, compare=False)
    # Which passage of its item each row holds (0 for a whole-item row), when recorded.
    part: np.ndarray | None = None
    # The store's own id of each row (LanceDB's row id), when it keeps them: ANN results
    # name rows by it (see :meth:`rows_at`).
    row_ids: np.ndarray | None = None
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def _row_index(self) -> dict[str, np.ndarray]:
        index = self._derived.get("rows")
        if index is None:
            grouped: dict[str, list[int]] = {}
            for row, i in enumerate(self.ids.tolist()):
                grouped.setdefault(i, []).append(row)
            index = {i: np.asarray(r, dtype=np.int64) for i, r in grouped.items()}
            self._derived["rows"] = index
        return index  # type: ignore[no-any-return]

    def rows_of(self, item_id: str) -> np.ndarray:
        """The row numbers of one item (none if it has no vector from this encoder)."""
        return self._row_index().get(item_id, _NO_ROWS)

    def repeats_items(self) -> bool:
        """Whether an item owns several rows (passages, keyframes)."""
        return len(self._row_index()) < len(self.ids)

    def rows_at(self, row_ids: np.ndarray) -> np.ndarray:
        """The rows of this view holding these store row ids (rows it lacks left out)."""
        if self.row_ids is None or not len(self.row_ids) or not len(row_ids):
            return _NO_ROWS
        found = self._derived.get("row-id-order")
        if found is None:
            order = np.argsort(self.row_ids, kind="stable")
            found = self._derived["row-id-order"] = (order, self.row_ids[order])
        order, ordered = found
        wanted = np.asarray(row_ids, dtype=self.row_ids.dtype)
        pos = np.minimum(np.searchsorted(ordered, wanted), len(order) - 1)
        rows = order[pos]
        return rows[ordered[pos] == wanted]  # type: ignore[no-any-return]

    def has(self, item_id: str) -> bool:
        return len(self.rows_of(item_id)) > 0

    def derived(self, name: str, build: Callable[[VectorView], T]) -> T:
        """``build(self)``, computed once per view and kept with it (a view never changes:
        new rows make a new view), e.g. the grouping of rows by item that MaxSim uses."""
        found = self._derived.get(name)
        if found is None:
            found = self._derived[name] = build(self)
        return found  # type: ignore[no-any-return]

    def best_scores(
        self,
        item_ids: Sequence[str],
        query: np.ndarray,
        modalities: Sequence[Modality] | None = None,
    ) -> dict[str, float]:
        """Each item's best cosine with ``query`` over its rows (items without rows, or not
        of ``modalities``, left out)."""
        codes = {MODALITY_CODES[m] for m in modalities} if modalities else None
        kept: list[str] = []
        groups: list[np.ndarray] = []
        for item_id in item_ids:
            rows = self.rows_of(item_id)
            if len(rows) and (codes is None or int(self.modality[rows[0]]) in codes):
                kept.append(item_id)
                groups.append(rows)
        if not kept:
            return {}
        # One product for all the items' rows, then each item's best row.
        scores = self.matrix[np.concatenate(groups)] @ np.asarray(query, dtype=np.float32)
        starts = np.cumsum([0, *(len(g) for g in groups[:-1])])
        best = np.maximum.reduceat(scores, starts)
        return dict(zip(kept, best.tolist(), strict=True))


@dataclass(frozen=True)
class AdapterRecord:
    """A query-side map from encoder ``new``'s space into encoder ``old``'s, fitted by
    ``polyseek encoders upgrade`` (:mod:`polyseek.lifecycle`): queries embedded by ``new``
    search ``old``'s vectors through it until ``new``'s backfill is complete."""

    old: str  # encoder specs
    new: str
    method: str  # "procrustes" | "low-rank-affine"
    file: str  # the fitted parameters (.npz), relative to the store directory
    retention: float  # held-out recall@10 of the adapted queries against new's exact results
    keep_old: bool = False  # keep old's vectors after the switch

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterRecord:
        return cls(**data)


@dataclass(frozen=True)
class Manifest:
    """What the index was built with; saved beside the tables.

    ``backfilling`` names encoders added to a live index whose vectors of earlier items are
    still being computed (``polyseek encoders add``); ``adapters`` the query-side adapters
    of upgrades in progress (``polyseek encoders upgrade``).
    """

    encoders: tuple[EncoderInfo, ...]
    collection_root: str
    format_version: int = FORMAT_VERSION
    backfilling: tuple[str, ...] = ()
    adapters: tuple[AdapterRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "collection_root": self.collection_root,
            "encoders": [e.to_dict() for e in self.encoders],
        }
        if self.backfilling:
            out["backfilling"] = list(self.backfilling)
        if self.adapters:
            out["adapters"] = [a.to_dict() for a in self.adapters]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            encoders=tuple(EncoderInfo.from_dict(e) for e in data["encoders"]),
            collection_root=data["collection_root"],
            format_version=data.get("format_version", FORMAT_VERSION),
            backfilling=tuple(data.get("backfilling", ())),
            adapters=tuple(AdapterRecord.from_dict(a) for a in data.get("adapters", ())),
        )


class Store(ABC):
    """Persistent home of a collection's index.

    Writes: :meth:`stage` rows (invisible), :meth:`commit` a batch (stage + the atomic
    publish of its source records + removal of what it replaced), :meth:`remove_sources`,
    :meth:`recover`. Reads see committed rows only.
    """

    manifest: Manifest
    path: Path  # the store folder (for an object store: its local working folder)
    location: StoreLocation  # where the tables are: that folder or an object-store URI
    media_dir: Path

    # ------------------------------------------------------------------ writes
    @abstractmethod
    def writing(self) -> AbstractContextManager[None]:
        """Hold the store's write lock (one writer at a time)."""

    def reading(self) -> AbstractContextManager[None]:
        """Read one snapshot of the index inside the block (a query); by default every
        read sees the latest state."""
        return nullcontext()

    @abstractmethod
    def stage(self, batch: SourceBatch) -> None:
        """Write a batch's items and vectors without its records: invisible until committed."""

    @abstractmethod
    def sources(self) -> dict[str, SourceRecord]:
        """Every committed source record, by path."""

    @abstractmethod
    def commit(self, batch: SourceBatch) -> None:
        """Write a batch atomically (see the module docstring)."""

    @abstractmethod
    def remove_sources(self, paths: Sequence[str]) -> int:
        """Forget these sources and their items; return how many sources were removed."""

    @abstractmethod
    def recover(self) -> int:
        """Delete rows left invisible by an interrupted write; return how many."""

    @abstractmethod
    def search_vectors(
        self,
        encoder_key: str,
        queries: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None = None,
        exact: bool | None = None,
        first_pass: FirstPass | str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-k (item id, cosine similarity) per query row, visible items only.

        ``exact=True`` forces exhaustive search; ``None`` lets the store use an ANN index.
        ``first_pass`` (see :mod:`polyseek.store.quantized`): pick candidates on compressed
        vectors, then rescore them exactly.
        """

    @abstractmethod
    def search_multivector(
        self,
        encoder_key: str,
        queries: Sequence[np.ndarray],
        k: int,
        modalities: Sequence[Modality] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-k (item id, MaxSim score) per query token matrix, visible items only.

        For late-interaction encoders (an item's rows are its token vectors): an item scores
        the sum over query tokens of the best dot product with any of its rows. Exact;
        ties are broken by item id.
        """

    @abstractmethod
    def search_text(
        self,
        query: str,
        k: int,
        modalities: Sequence[Modality] | None = None,
        within: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Top-k (item id, BM25 score) for plain query words, visible items only.

        ``within``: only these items (a metadata filter's matches, pushed into the index).
        """

    def visible_items(self, columns: Sequence[str]) -> Any:
        """A ``pyarrow.Table`` of these item columns (``id``, ``source``, ``modality``,
        ``locator``, ``metadata`` ...) for every visible item: what filters read."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its items' columns")

    def data_version(self) -> tuple[int, ...]:
        """Changes whenever the visible items may have (cache key of derived tables)."""
        raise NotImplementedError(f"{type(self).__name__} has no data version")

    def text_matching(self, pattern: str) -> set[str]:
        """Ids of the visible items whose text matches a regular expression (Rust
        ``regex`` syntax), scanned inside the store: what phrase queries use."""
        raise NotImplementedError(f"{type(self).__name__} cannot scan its items' text")

    @abstractmethod
    def ensure_text_index(self) -> None:
        """Bring the full-text index up to date with the items (after writes)."""

    @abstractmethod
    def get_items(self, ids: Sequence[str], text: bool = True) -> dict[str, StoredItem]:
        """Visible items by id. ``text=False``: their text may be left empty (``""``) when
        that saves a read; for decisions that need only where an item is and what it is
        (its modality, source, locator), not for what a hit shows."""

    @abstractmethod
    def item_texts(self) -> list[tuple[str, str, str]]:
        """(item id, source, text) of every visible item, in id order."""

    @abstractmethod
    def committed(self) -> dict[str, str]:
        """source path -> the generation of its visible items (committed, status ok)."""

    @abstractmethod
    def vectors(self, encoder_key: str) -> VectorView:
        """The visible vectors of one encoder, in memory."""

    def vectors_of(self, encoder_key: str, item_ids: Sequence[str]) -> VectorView:
        """A view holding (at least) the visible rows of these items: what scoring a few
        candidates needs. Stores whose tables are too large to hold read only those rows;
        by default, :meth:`vectors`."""
        return self.vectors(encoder_key)

    def vector_modalities(self, encoder_key: str) -> frozenset[Modality]:
        """The modalities of one encoder's visible rows (stores that can tell without
        loading every vector do)."""
        return self.vectors(encoder_key).derived(
            "modalities", lambda v: frozenset(MODALITIES[c] for c in np.unique(v.modality).tolist())
        )

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Visible items per modality."""

    @abstractmethod
    def table_rows(self) -> dict[str, int]:
        """Rows per table, visible or not (``sources``, ``items``, one per encoder key)."""

    @abstractmethod
    def media_path(self, source: str, item_id: str, gen: str) -> Path:
        """Where the preview image of an item is written."""

    def preview_file(self, item: StoredItem) -> Path | None:
        """The stored preview image of ``item``, if it has one."""
        return self.path / item.preview if item.preview else None

    @abstractmethod
    def disk_bytes(self) -> int:
        """Size of the store on disk."""

    @abstractmethod
    def compact(self) -> None:
        """Merge small writes and drop old versions (after large runs)."""

    @abstractmethod
    def maintain_indexes(self, min_rows: int | None = None) -> None:
        """Build the lookup and ANN indexes a table of this size should have."""
