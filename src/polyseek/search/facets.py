"""The fields a ``--where`` filter reads, one Arrow row per visible item.

Built from the store's item rows (modality, provenance, metadata JSON), its source
records (file size and mtime) and the labels file of ``polyseek label``
(:data:`LABELS_FILE`), then kept until the store's data or the labels change. At 100k
items building it takes about a second once; every filter after that is a few
``pyarrow.compute`` kernels over it (benchmarks/query_latency.py, filter part).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from polyseek.search.filters import FIELDS, META_PREFIX, parse_date
from polyseek.store.base import Store

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.parquet"  # item id, label, label_prob: written by `polyseek label`
_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.float64()}
_cache: OrderedDict[tuple[Any, ...], FacetTable] = OrderedDict()
_lock = threading.Lock()
_KEEP = 4


def labels_path(store: Store) -> Path:
    return store.path / LABELS_FILE


def _labels_version(store: Store) -> int:
    try:
        return labels_path(store).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


class FacetTable:
    """Filter fields of every visible item; ``meta.KEY`` columns made when first asked."""

    def __init__(self, table: pa.Table, metadata: list[dict[str, Any]]) -> None:
        self.table = table
        self._metadata = metadata
        self._lock = threading.Lock()

    @property
    def ids(self) -> pa.ChunkedArray:
        return self.table.column("id")

    def with_fields(self, names: set[str]) -> pa.Table:
        """The table with a column for each ``meta.KEY`` among ``names``."""
        extra = sorted(
            n for n in names if n.startswith(META_PREFIX) and n not in self.table.column_names
        )
        with self._lock:
            for name in extra:
                key = name[len(META_PREFIX) :]
                values = [_text(m.get(key)) for m in self._metadata]
                self.table = self.table.append_column(name, pa.array(values, pa.string()))
        return self.table


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def facet_table(store: Store) -> FacetTable:
    """The filter fields of ``store``'s visible items (cached per data and labels version)."""
    key = (str(store.path), id(store), store.data_version(), _labels_version(store))
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    built = _build(store)
    with _lock:
        _cache[key] = built
        while len(_cache) > _KEEP:
            _cache.popitem(last=False)
    return built


def _build(store: Store) -> FacetTable:
    items = store.visible_items(["id", "source", "modality", "locator", "metadata"])
    records = store.sources()
    metadata = [json.loads(m) if m else {} for m in items.column("metadata").to_pylist()]
    locators = [json.loads(x) if x else {} for x in items.column("locator").to_pylist()]
    sources = items.column("source").to_pylist()
    cols: dict[str, list[Any]] = {name: [] for name in FIELDS}
    for src, meta, loc in zip(sources, metadata, locators, strict=True):
        rec = records.get(src)
        name = src.rsplit("/", 1)[-1]
        cols["ext"].append(name.rsplit(".", 1)[-1].lower() if "." in name else "")
        cols["size"].append(rec.size if rec else None)
        cols["mtime"].append(rec.mtime_ns / 1e9 if rec else None)
        cols["page"].append(loc.get("page"))
        cols["start"].append(loc.get("start_s"))
        cols["width"].append(_number(meta.get("width")))
        cols["height"].append(_number(meta.get("height")))
        date = meta.get("DateTimeOriginal") or meta.get("DateTime")
        cols["exif_date"].append(parse_date(str(date)) if date else None)
        camera = " ".join(str(meta[k]).strip() for k in ("Make", "Model") if meta.get(k))
        cols["camera"].append(camera or None)
        cols["title"].append(_text(meta.get("title")))
        cols["author"].append(_text(meta.get("author")))
        cols["pages"].append(_number(meta.get("page_count"), int))
    cols["modality"] = items.column("modality").to_pylist()
    cols["source"] = sources
    cols["label"], cols["label_prob"] = _labels(store, items.column("id"))
    arrays = {"id": items.column("id").combine_chunks()}
    for name, spec in FIELDS.items():
        arrays[name] = pa.array(cols[name], _TYPES[spec.type])
    logger.debug("built the filter fields of %d items", items.num_rows)
    return FacetTable(pa.table(arrays), metadata)


def _number(value: Any, kind: type = float) -> Any:
    try:
        return kind(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _labels(store: Store, ids: pa.ChunkedArray) -> tuple[list[Any], list[Any]]:
    path = labels_path(store)
    if not path.is_file():
        return [None] * len(ids), [None] * len(ids)
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(path, columns=["id", "label", "label_prob"])
    except (OSError, pa.ArrowInvalid) as exc:
        logger.warning("unreadable labels file %s (%s): labels left out of filters", path, exc)
        return [None] * len(ids), [None] * len(ids)
    at = pc.index_in(ids, value_set=t.column("id").combine_chunks()).to_pylist()
    labels, probs = t.column("label").to_pylist(), t.column("label_prob").to_pylist()
    return (
        [labels[i] if i is not None else None for i in at],
        [probs[i] if i is not None else None for i in at],
    )


__all__ = ["LABELS_FILE", "FacetTable", "facet_table", "labels_path"]
