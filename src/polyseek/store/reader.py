"""Reads of the store's tables through Lance itself, without LanceDB's Python package.

A LanceDB table is a Lance dataset, ``<db>/<name>.lance``, on disk or on object storage.
The reads a search or ``polyseek status`` makes (the tables' versions, whole columns, rows
by offset, BM25 over the items' text, ANN) are Lance scans, and pylance answers them as
LanceDB does (the same BM25 scores and row ids: tests/unit/store/test_reader.py).
What that saves is the import: ``import lance`` costs ~0.05 s of CPU on top of
``pyarrow.dataset``, which both need, where ``import lancedb`` costs ~0.55 s more (its
namespace models, ~200 pydantic classes, its embeddings registry and remote client),
measured on the 2-core machine (benchmarks/startup.py). ANN queries of large tables are
Lance's nearest-neighbour scans of the same indexes. LanceDB stays the writer and index
builder; :class:`~polyseek.store.lancedb.LanceStore` imports it on the first write.

Each table has one dataset handle; :meth:`TableReader.at` gives a handle checked out at one
version (kept until a newer one is asked for), so that row ids read through it name the
rows of that version. Every handle translates foreign errors into polyseek's
(:mod:`polyseek.store.guard`): a damaged table names itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyseek.store.guard import GuardedTable, lance_errors

FTS_INDEX_TYPE = "Inverted"  # how Lance names the index LanceDB calls "FTS"


class TableReader:
    """Read-only Lance handles on the tables under ``db_uri``."""

    def __init__(
        self, db_uri: str, store_path: Path, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.db_uri = db_uri.rstrip("/")
        self.store_path = store_path  # named in errors (and in the repair command)
        self.storage_options = dict(storage_options or {}) or None
        self._latest: dict[str, Any] = {}  # table -> dataset handle (its version moves on)
        self._pins: dict[str, tuple[int, Any]] = {}  # table -> (version, guarded handle)
        self._lock = threading.Lock()

    def uri(self, name: str) -> str:
        return f"{self.db_uri}/{name}.lance"

    def open(self, name: str) -> None:
        """Open table ``name`` now (its newest version manifest is read: a damaged one
        raises here, naming the table)."""
        self._dataset(name)

    def _dataset(self, name: str) -> Any:
        with self._lock:
            ds = self._latest.get(name)
            if ds is None:
                import lance

                with lance_errors(name, self.store_path):
                    ds = lance.dataset(self.uri(name), storage_options=self.storage_options)
                self._latest[name] = ds
            return ds

    def latest_version(self, name: str) -> int:
        """The table's newest version (a look at its version manifests: never cached)."""
        ds = self._dataset(name)
        with lance_errors(name, self.store_path):
            return int(ds.latest_version)

    def at(self, name: str, version: int) -> Any:
        """A handle on table ``name`` at ``version`` (a ``LanceDataset``, guarded)."""
        with self._lock:
            found = self._pins.get(name)
            if found is not None and found[0] == version:
                return found[1]
        ds = self._dataset(name)
        with lance_errors(name, self.store_path):
            pinned = ds.checkout_version(version)
        handle = GuardedTable(pinned, name, self.store_path)
        with self._lock:
            self._pins[name] = (version, handle)
        return handle

    def latest(self, name: str) -> Any:
        """A handle on table ``name`` at its newest version."""
        return self.at(name, self.latest_version(name))

    def indexes(self, name: str, version: int | None = None) -> list[tuple[str, tuple[str, ...]]]:
        """(Lance index type, column names) of each index of the table."""
        handle = self.latest(name) if version is None else self.at(name, version)
        return [(d.index_type, tuple(d.field_names)) for d in handle.describe_indices()]

    def forget(self, name: str | None = None) -> None:
        """Drop the handles of one table (dropped, re-created), or of all."""
        with self._lock:
            for cache in (self._latest, self._pins):
                if name is None:
                    cache.clear()
                else:
                    cache.pop(name, None)


__all__ = ["FTS_INDEX_TYPE", "TableReader"]
