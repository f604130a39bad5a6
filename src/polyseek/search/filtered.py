"""A store seen through a filter: only the items a ``--where`` expression (and the query's
quoted phrases) let through, *before* anything is ranked.

:func:`restrict` evaluates the filter once per (store version, filter) and returns a
:class:`FilteredStore`, a read-only :class:`~polyseek.store.base.Store` whose every read
is limited to the matching items:

* vectors: the in-memory view keeps the matching rows only (exact search, first passes,
  calibration statistics and MaxSim all read it), so ``top`` hits come back whenever that
  many items match. A filtered query does not use the ANN index: it searches the matching
  rows exhaustively (a few ms per 100k rows).
* BM25: a selective filter (up to :data:`PUSHDOWN_IDS` items) is a prefilter of
  LanceDB's full-text search; a broad one reads deeper into the ranked list until ``k``
  matching items are found or the list ends (the same top-k either way).
* a quoted phrase (``"pump housing"``) must occur as a phrase: the items' text is scanned
  with a regular expression inside LanceDB (word boundaries, any spacing, any case).

The search pipeline (:meth:`polyseek.search.pipeline.SearchPipeline.rank`) runs on the
view unchanged; nothing downstream knows a filter was applied.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polyseek.errors import StoreError
from polyseek.search.facets import facet_table, labels_path
from polyseek.search.filters import fields_of, matching, parse_where
from polyseek.store.base import (
    SourceBatch,
    SourceRecord,
    Store,
    StoredItem,
    VectorView,
    query_scores,
)
from polyseek.store.maxsim import maxsim_search
from polyseek.store.multivector import top_unique
from polyseek.store.quantized import FirstPass, first_pass_search
from polyseek.types import MODALITY_CODES, Modality

PUSHDOWN_IDS = 2000  # filters matching up to this many items are pushed into BM25 as ids
_PHRASE = re.compile(r'"([^"]+)"')
_KEEP = 4  # filtered views kept (each holds a copy of its matching vector rows)
_views: OrderedDict[tuple[Any, ...], FilteredStore] = OrderedDict()
_lock = threading.Lock()


def quoted_phrases(text: str | None) -> tuple[str, ...]:
    """The quoted phrases of a query text, each with at least one word."""
    if not text:
        return ()
    found = (" ".join(re.findall(r"\w+", p)) for p in _PHRASE.findall(text))
    return tuple(dict.fromkeys(p for p in found if p))


def phrase_pattern(phrase: str) -> str:
    """A regular expression (Rust ``regex``) matching ``phrase``'s words in order, whole,
    separated by anything but word characters, in any case."""
    words = re.findall(r"\w+", phrase)
    return r"(?i)\b" + r"\W+".join(re.escape(w) for w in words) + r"\b"


def restrict(store: Store, where: str | None, text: str | None = None) -> Store:
    """``store`` limited to the items ``where`` and the quoted phrases of ``text`` admit
    (``store`` itself when there is neither)."""
    phrases = quoted_phrases(text)
    where = (where or "").strip() or None
    if where is None and not phrases:
        return store
    try:
        labels = labels_path(store).stat().st_mtime_ns
    except FileNotFoundError:
        labels = 0
    key = (str(store.path), id(store), store.data_version(), labels, where, phrases)
    with _lock:
        found = _views.get(key)
        if found is not None:
            _views.move_to_end(key)
            return found
    allowed, total = _matching_ids(store, where, phrases)
    view = FilteredStore(store, allowed, tag=zlib.crc32(repr((where, phrases)).encode()))
    view.total = total
    with _lock:
        _views[key] = view
        while len(_views) > _KEEP:
            _views.popitem(last=False)
    return view


def _matching_ids(
    store: Store, where: str | None, phrases: Sequence[str]
) -> tuple[frozenset[str], int | None]:
    """The ids admitted, and how many visible items there are (None: not counted)."""
    allowed: set[str] | None = None
    total = None
    if where is not None:
        expr = parse_where(where)
        facets = facet_table(store)
        table = facets.with_fields(fields_of(expr))
        total = table.num_rows
        allowed = set(pc.filter(table.column("id"), matching(expr, table)).to_pylist())
    for phrase in phrases:
        found = store.text_matching(phrase_pattern(phrase))
        allowed = found if allowed is None else allowed & found
    return frozenset(allowed or ()), total


class FilteredStore(Store):
    """A read-only view of ``base`` holding only the items in ``allowed``."""

    def __init__(self, base: Store, allowed: frozenset[str], tag: int = 0) -> None:
        self.base = base
        self.allowed = allowed
        self.tag = tag
        self.manifest = base.manifest
        self.path = base.path
        self.media_dir = base.media_dir
        self._ids = sorted(allowed)
        self._views: dict[str, VectorView] = {}
        self._rows: dict[str, np.ndarray] = {}  # each view's rows in the base's view
        self.total: int | None = None  # visible items of the base (for BM25's depth)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.allowed)

    # ------------------------------------------------------------------ reads
    def reading(self) -> AbstractContextManager[None]:
        return self.base.reading()

    def vectors_of(self, encoder_key: str, item_ids: Sequence[str]) -> VectorView:
        allowed = self.allowed
        return self.base.vectors_of(encoder_key, [i for i in item_ids if i in allowed])

    def vectors(self, encoder_key: str) -> VectorView:
        view = self.base.vectors(encoder_key)
        with self._lock:
            cached = self._views.get(encoder_key)
            if cached is not None and cached.version[:-1] == view.version:
                return cached
            allowed = self.allowed
            keep = np.fromiter((i in allowed for i in view.ids), dtype=bool, count=len(view.ids))
            self._rows[encoder_key] = np.flatnonzero(keep)
            cached = VectorView(
                encoder_key,
                (*view.version, self.tag),
                view.ids[keep],
                view.modality[keep],
                np.ascontiguousarray(view.matrix[keep]),
                part=None if view.part is None else view.part[keep],
            )
            self._views[encoder_key] = cached
            return cached

    def base_rows(self, encoder_key: str) -> np.ndarray:
        """Which rows of the base store's view the rows of :meth:`vectors` are (so that
        what was derived from the whole view, such as hubness, is reused, not rebuilt)."""
        self.vectors(encoder_key)
        return self._rows[encoder_key]

    def search_vectors(
        self,
        encoder_key: str,
        queries: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None = None,
        exact: bool | None = None,
        first_pass: FirstPass | str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-k among the matching items: exhaustive (or a compressed first pass)."""
        view = self.vectors(encoder_key)
        keep = None
        if modalities:
            keep = np.isin(view.modality, [MODALITY_CODES[m] for m in modalities])
        fp = FirstPass.parse(first_pass).for_dim(queries.shape[-1])
        if not fp.is_exact:
            return first_pass_search(fp, view.matrix, view.ids, queries, k, keep, view.compressed)
        if len(view.ids) == 0:
            return [[] for _ in range(len(queries))]
        scores = query_scores(view.matrix, queries)
        if keep is not None:
            scores[:, ~keep] = -np.inf
        return [[(i, s) for i, s in top_unique(row, view.ids, k) if s != -np.inf] for row in scores]

    def search_multivector(
        self,
        encoder_key: str,
        queries: Sequence[np.ndarray],
        k: int,
        modalities: Sequence[Modality] | None = None,
    ) -> list[list[tuple[str, float]]]:
        return maxsim_search(self.vectors(encoder_key), queries, k, modalities)

    def search_text(
        self,
        query: str,
        k: int,
        modalities: Sequence[Modality] | None = None,
        within: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        ids = self._ids if within is None else [i for i in within if i in self.allowed]
        if not ids or k < 1:
            return []
        if len(ids) <= PUSHDOWN_IDS:
            return self.base.search_text(query, k, modalities, within=ids)
        if self.total is None:
            self.total = max(sum(self.base.counts().values()), 1)
        depth = int(k * self.total / len(ids) * 2) + 20
        wanted = set(ids)
        while True:
            found = self.base.search_text(query, depth, modalities)
            kept = [(i, s) for i, s in found if i in wanted]
            if len(kept) >= k or len(found) < depth:
                return kept[:k]
            depth *= 4

    def get_items(self, ids: Sequence[str], text: bool = True) -> dict[str, StoredItem]:
        return self.base.get_items([i for i in ids if i in self.allowed], text)

    def item_texts(self) -> list[tuple[str, str, str]]:
        return [r for r in self.base.item_texts() if r[0] in self.allowed]

    def visible_items(self, columns: Sequence[str]) -> Any:
        t = self.base.visible_items(list(dict.fromkeys([*columns, "id"])))
        mask = pc.is_in(t.column("id"), value_set=pa.array(self._ids, pa.string()))
        return t.filter(mask).select(list(columns))

    def text_matching(self, pattern: str) -> set[str]:
        return self.base.text_matching(pattern) & self.allowed

    def data_version(self) -> tuple[int, ...]:
        return (*self.base.data_version(), self.tag)

    def sources(self) -> dict[str, SourceRecord]:
        return self.base.sources()

    def committed(self) -> dict[str, str]:
        return self.base.committed()

    def counts(self) -> dict[str, int]:
        view = self.visible_items(["modality"]).column("modality").to_pylist()
        out: dict[str, int] = {}
        for m in view:
            out[m] = out.get(m, 0) + 1
        return dict(sorted(out.items()))

    def table_rows(self) -> dict[str, int]:
        return self.base.table_rows()

    def media_path(self, source: str, item_id: str, gen: str) -> Path:
        return self.base.media_path(source, item_id, gen)

    def preview_file(self, item: StoredItem) -> Path | None:
        return self.base.preview_file(item)

    def disk_bytes(self) -> int:
        return self.base.disk_bytes()

    def ensure_text_index(self) -> None:
        self.base.ensure_text_index()

    # ------------------------------------------------------------------ writes: refused
    def _read_only(self) -> StoreError:
        return StoreError("a filtered view of the index is read-only")

    @contextmanager
    def writing(self) -> Iterator[None]:
        raise self._read_only()
        yield  # pragma: no cover

    def stage(self, batch: SourceBatch) -> None:
        raise self._read_only()

    def commit(self, batch: SourceBatch) -> None:
        raise self._read_only()

    def remove_sources(self, paths: Sequence[str]) -> int:
        raise self._read_only()

    def recover(self) -> int:
        raise self._read_only()

    def compact(self) -> None:
        raise self._read_only()

    def maintain_indexes(self, min_rows: int | None = None) -> None:
        raise self._read_only()


__all__ = ["PUSHDOWN_IDS", "FilteredStore", "phrase_pattern", "quoted_phrases", "restrict"]
