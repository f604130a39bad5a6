"""The embedded store: LanceDB tables on local disk or on object storage.

Layout of a store directory::

    manifest.json      encoders (spec, revision, dim, metric) and collection root
    db/sources.lance   one row per source file: hash, status, error, gen
    db/items.lance     one row per item: provenance, text, metadata, preview path
    db/v_<key>.lance   one table per encoder: item id, gen, modality, vector
    media/             previews (image thumbnails, page renders): <item id>.<gen>.jpg
    lock               held (flock) by the one process writing

On object storage (``s3://bucket/prefix``, see :mod:`polyseek.store.uri`) the layout is
the same under the prefix; ``lock`` is a lease object instead of a flock, and the small
files (manifest, calibration, media) are mirrored in a local working folder
(:attr:`LanceStore.path`), uploaded when written and fetched when missing.

Search is exact: vectors are read once into a float32 matrix and scored with numpy
(a few ms at 100k x 384); LanceDB without an ANN index takes ~0.3 s per query here.
The in-memory copy (:meth:`LanceStore.vectors`, a :class:`~polyseek.store.base.VectorView`)
is rebuilt when a table's version moves. Lexical search is LanceDB's built-in BM25
full-text index over the items' ``text`` (English stemming, stop words removed,
lower-cased, ASCII-folded); rows added after the index was built are still searched (flat)
until :meth:`LanceStore.ensure_text_index` folds them in.

Reads go through Lance itself (:mod:`polyseek.store.reader`: the same datasets, without
LanceDB's Python package, whose import was most of a cold ``status`` or ``search``);
ANN queries too, through Lance's nearest-neighbour scan of the same index (LanceDB's query
builder cost 5 ms a query more at 100k rows). LanceDB writes and builds indexes, and is
imported on first use.

Reads a query makes are cheap to repeat: :meth:`LanceStore.reading` fixes the tables'
versions once per query, the vectors and the visible items' light columns
(:mod:`polyseek.store.catalog`) are kept per version and read through handles checked
out at that version, so that row ids name their rows (ANN and BM25 results) and the hits'
texts are taken by their offset in the catalog's version.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from polyseek.encoders.base import EncoderInfo
from polyseek.errors import CollectionNotFoundError, DamagedIndexError, QueryError, StoreError
from polyseek.store.ann import ANN_MIN_ROWS, AnnPlan, measure_recall, plan_for
from polyseek.store.base import (
    Manifest,
    SourceBatch,
    SourceRecord,
    Store,
    StoredItem,
    VectorView,
    query_scores,
)
from polyseek.store.catalog import LIGHT_COLUMNS, ROW_ID, ItemCatalog
from polyseek.store.distributed_index import (
    TEXT_INDEX_NAME,
    VECTOR_INDEX_NAME,
    RayIndexBuilder,
    append_new_rows,
    segments,
)
from polyseek.store.fragments import (
    FragmentTarget,
    RowOwner,
    fragments_from_json,
    import_lance,
    vector_rows,
)
from polyseek.store.guard import GuardedTable, lance_errors, repair_command
from polyseek.store.maxsim import maxsim_search
from polyseek.store.multivector import dedupe_best, top_unique
from polyseek.store.quantized import FirstPass, first_pass_search
from polyseek.store.reader import FTS_INDEX_TYPE, TableReader
from polyseek.store.uri import StoreLocation, WriterLease
from polyseek.types import MODALITY_CODES, Modality

logger = logging.getLogger(__name__)

# The table versions a query reads at ((store id, table) -> version), inside
# LanceStore.reading(); a context variable, so that a query's helper threads share it.
_SNAPSHOT: ContextVar[dict[tuple[int, str], int | Future[int]] | None] = ContextVar(
    "snapshot", default=None
)
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="polyseek-versions")

SOURCES_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("content_hash", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("gen", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("n_items", pa.int32()),
        ("indexed_at", pa.float64()),
    ]
)
ITEMS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("gen", pa.string()),
        ("modality", pa.string()),
        ("locator", pa.string()),
        ("text", pa.string()),
        ("metadata", pa.string()),
        ("preview", pa.string()),
        ("passages", pa.string()),  # JSON spans of text embedded one by one ("" if none)
    ]
)
FTS_COLUMN = "text"


def vector_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("gen", pa.string()),
            ("modality", pa.string()),
            ("part", pa.int32()),  # which passage (or keyframe) of its item the row holds
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class LanceStore(Store):
    """Items and vectors in LanceDB, exact search over an in-memory matrix."""

    MANIFEST = "manifest.json"
    MANIFEST_BACKUP = "manifest.backup.json"  # the same, so a damaged manifest can be mended

    SIDE_FILES = ("calibration.json", "calibration-probes.npz", "ann.json")  # mirrored

    def __init__(self, path: Path | StoreLocation, manifest: Manifest) -> None:
        self.location = _location(path)
        self.path = path = self.location.local_dir
        self.manifest = manifest
        self.media_dir = path / "media"
        self._connection: Any = None  # LanceDB's, made on the first write (:attr:`_db`)
        self._reader = TableReader(self.location.db_uri, path, self.location.lance_options())
        self._caches: dict[str, VectorView] = {}
        self._committed_cache: tuple[int, dict[str, str]] | None = None
        self._catalog: ItemCatalog | None = None
        self._modalities: dict[str, tuple[tuple[int, int], frozenset[Modality]]] = {}
        self._resident_asked: dict[str, tuple[int, int]] = {}  # table -> version searched
        self._sizes: dict[str, tuple[int, int]] = {}  # table -> (version, float32 bytes)
        self._text_index: tuple[int, bool] | None = None  # (items version, has the index)
        self._catalog_asked: tuple[int, ...] | None = None
        self._catalog_refused: tuple[int, ...] | None = None
        self._ann: dict[str, bool] = {}
        # Set by a Ray run (RayExecutor): full-text and ANN indexes are built on the cluster.
        self.index_builder: RayIndexBuilder | None = None
        self._plans: dict[str, AnnPlan] = {}
        self._lock_fd: int | None = None
        self._identity = self._manifest_identity()  # which index this object opened
        self._tables: dict[str, Any] = {}  # LanceDB handles, opened on first use
        self._names: set[str] = set()  # the tables the manifest wants, all there
        # Readers on several threads (the server) share the caches: one rebuilds them.
        self._cache_lock = threading.RLock()
        self._ensure_tables()

    # ----------------------------------------------------------------- open/create
    @classmethod
    def exists(cls, path: Path | StoreLocation) -> bool:
        loc = _location(path)
        if loc.is_remote:
            return loc.read_bytes(cls.MANIFEST) is not None
        return (loc.local_dir / cls.MANIFEST).is_file()

    @classmethod
    def open(cls, path: Path | StoreLocation) -> LanceStore:
        loc = _location(path)
        if loc.is_remote:  # the manifest is the prefix's: refresh the local copy
            loc.local_dir.mkdir(parents=True, exist_ok=True)
            loc.download(cls.MANIFEST, refresh=True)
            for name in cls.SIDE_FILES:
                loc.download(name)
        path = loc.local_dir
        manifest_path = path / cls.MANIFEST
        if not manifest_path.is_file():
            raise CollectionNotFoundError(
                f"no polyseek index at {loc}",
                hint="create one with `polyseek index DIR` (or pass --store PATH)",
            )
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest = Manifest.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DamagedIndexError(
                "manifest.json",
                f"{manifest_path}: unreadable manifest ({exc})",
                hint=f"run `{repair_command(path)}` (it restores the manifest from its "
                "backup), or re-create the index: `polyseek index DIR --rebuild --encoder SPEC`",
            ) from exc
        return cls(loc, manifest)

    @classmethod
    def create(cls, path: Path | StoreLocation, manifest: Manifest) -> LanceStore:
        loc = _location(path)
        loc.local_dir.mkdir(parents=True, exist_ok=True)
        store = cls(loc, manifest)  # the tables first: the manifest makes it an index
        cls.write_manifest(loc, manifest)
        store._identity = store._manifest_identity()
        return store

    @classmethod
    def write_manifest(
        cls, path: Path | StoreLocation, manifest: Manifest, backup_only: bool = False
    ) -> None:
        """Write the manifest and its backup copy, each atomically (and upload them)."""
        loc = _location(path)
        path = loc.local_dir
        for name in (cls.MANIFEST_BACKUP,) if backup_only else (cls.MANIFEST_BACKUP, cls.MANIFEST):
            tmp = path / (name + ".tmp")
            tmp.write_text(json.dumps(manifest.to_dict(), indent=2), encoding="utf-8")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path / name)
            loc.upload(name)

    def _manifest_identity(self) -> tuple[Any, ...] | None:
        """What changes when the manifest is replaced (a rebuilt index)."""
        if self.location.is_remote:
            data = self.location.read_bytes(self.MANIFEST)
            return None if data is None else (hashlib.sha1(data).hexdigest(),)
        return _identity(self.path / self.MANIFEST)

    def publish(self) -> None:
        """Upload the side files written in :attr:`path` (calibration) to a remote store."""
        if self.location.is_remote:
            for name in self.SIDE_FILES:
                if (self.path / name).is_file():
                    self.location.upload(name)

    @property
    def _db(self) -> Any:
        """The LanceDB connection (its import is most of a cold read's cost, and reads
        go through :class:`~polyseek.store.reader.TableReader`: made when first needed)."""
        if self._connection is None:
            import lancedb

            self._connection = lancedb.connect(
                self.location.db_uri,
                read_consistency_interval=timedelta(0),
                storage_options=self.location.lance_options() or None,
            )
        return self._connection

    def _table_names(self) -> set[str]:
        names: set[str] = set()
        token = None
        while True:
            with lance_errors("(list of tables)", self.path):
                resp = self._db.list_tables(page_token=token)
            names.update(resp.tables)
            token = resp.page_token
            if not token:
                return names

    def _ensure_tables(self) -> None:
        wanted: dict[str, pa.Schema] = {"sources": SOURCES_SCHEMA, "items": ITEMS_SCHEMA}
        for enc in self.manifest.encoders:
            wanted[enc.key] = vector_schema(enc.dim)
        if not self.location.is_remote and all(
            (Path(self.location.db_uri) / f"{name}.lance").is_dir() for name in wanted
        ):  # all there: opened by Lance for reads, by LanceDB when first written
            for name in wanted:
                self._reader.open(name)  # a damaged table stops every command here
            self._names = set(wanted)
            return
        existing = self._table_names()
        for name, schema in wanted.items():
            # Every handle translates LanceDB's errors (a damaged table names itself).
            with lance_errors(name, self.path):
                if name in existing:
                    table = self._db.open_table(name)
                else:
                    table = self._db.create_table(name, schema=schema, exist_ok=True)
            self._tables[name] = GuardedTable(table, name, self.path)
            self._reader.forget(name)  # (a new table may stand where a dropped one was)
        self._names = set(wanted)

    def _table(self, name: str) -> Any:
        """The LanceDB handle on table ``name`` (writes, ANN queries, index builds)."""
        table = self._tables.get(name)
        if table is None:
            if name not in self._names:
                raise KeyError(name)
            with lance_errors(name, self.path):
                table = GuardedTable(self._db.open_table(name), name, self.path)
            self._tables[name] = table
        return table

    def _latest(self, name: str) -> Any:
        """A Lance handle on table ``name`` at its newest version (reads)."""
        if name not in self._names:
            raise KeyError(name)
        return self._reader.latest(name)

    def _at(self, name: str, version: int) -> Any:
        """A Lance handle on table ``name`` checked out at ``version`` (reads; see
        :meth:`TableReader.at`)."""
        return self._reader.at(name, version)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Read at one snapshot of the tables' versions inside the block (one query).

        Each table's version is looked up once, when the block starts (the tables a
        query reads, concurrently; others at their first read): with
        ``read_consistency_interval=0`` every lookup is a round trip to the table's
        manifest. Every cache the block reads (committed generations,
        vectors, item catalog) is the one of that version: a query sees one state of
        the index, and a commit made meanwhile is seen by the next block. Nested blocks
        share the outermost one's snapshot.
        """
        if _SNAPSHOT.get() is not None:
            yield
            return
        # The lookups a query makes, all at once rather than one after the other (each
        # waits on LanceDB's event loop; a busy machine makes each wait long).
        names = ["sources", "items", *(e.key for e in self.manifest.encoders)]
        snapshot: dict[tuple[int, str], int | Future[int]] = {
            (id(self), n): _LOOKUPS.submit(self._latest_version, n)
            for n in names
            if n in self._names
        }
        token = _SNAPSHOT.set(snapshot)
        try:
            yield
        finally:
            _SNAPSHOT.reset(token)

    def _latest_version(self, name: str) -> int:
        if name not in self._names:
            raise KeyError(name)
        return self._reader.latest_version(name)

    def _version(self, name: str) -> int:
        """The version of a table: the snapshot's inside :meth:`reading`, else the latest."""
        snapshot = _SNAPSHOT.get()
        if snapshot is None:
            return self._latest_version(name)
        key = (id(self), name)
        found = snapshot.get(key)
        if found is None:
            found = snapshot[key] = self._latest_version(name)
        elif isinstance(found, Future):
            found = snapshot[key] = found.result()
        return found

    # ----------------------------------------------------------------- encoders
    def set_manifest(self, manifest: Manifest) -> None:
        """Record other encoders or adapters (hold :meth:`writing`): new encoders' tables
        are made first, then the manifest is replaced atomically (the commit point of
        ``polyseek encoders add/upgrade/remove``); tables of encoders it drops stay until
        :meth:`drop_vector_table`."""
        self.manifest = manifest
        self._ensure_tables()
        self.write_manifest(self.path, manifest)
        self._identity = _identity(self.path / self.MANIFEST)

    def reload_manifest(self) -> bool:
        """Re-read the manifest if another process replaced it; whether it changed."""
        if _identity(self.path / self.MANIFEST) == self._identity:
            return False
        with self._cache_lock:
            fresh = LanceStore.open(self.location)  # an object store by its URI, not the mirror
            self.manifest, self._identity = fresh.manifest, fresh._identity
            self._tables.update(fresh._tables)
            self._names = fresh._names
            self._reader.forget()
            self._caches.clear()
            self._modalities.clear()
            self._sizes.clear()
            self._ann.clear()
            self._catalog = self._catalog_asked = self._committed_cache = None
            self._text_index = None
            snapshot = _SNAPSHOT.get()
            for key in [k for k in snapshot or {} if k[0] == id(self)]:
                del snapshot[key]  # type: ignore[union-attr]  # versions of the old tables
        return True

    def vector_tables(self) -> set[str]:
        """Names of the encoder tables on disk (``v_*``), recorded in the manifest or not."""
        return {n for n in self._table_names() if n.startswith("v_")}

    def drop_vector_table(self, key: str) -> None:
        """Delete the table of an encoder the manifest no longer records."""
        if any(e.key == key for e in self.manifest.encoders):
            raise StoreError(f"refusing to drop {key}: the manifest still records its encoder")
        with lance_errors(key, self.path):
            self._db.drop_table(key)
        self._tables.pop(key, None)
        self._names.discard(key)
        self._reader.forget(key)
        self._caches.pop(key, None)
        self._modalities.pop(key, None)
        self._sizes.pop(key, None)
        self._ann.pop(key, None)

    def add_vectors(self, encoder_key: str, items: list[StoredItem], vectors: np.ndarray) -> None:
        """Add one encoder's rows for items already committed (one row per entry of
        ``items``, in order: an item's rows are its passages 0, 1, ...). They carry the
        items' generation, so they are visible at once and vanish with the items."""
        enc = next(e for e in self.manifest.encoders if e.key == encoder_key)
        self._add_vectors(enc, items, vectors)

    # ----------------------------------------------------------------- locking
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock (one writer at a time; released if killed)."""
        with write_lock(self.location):
            if self._manifest_identity() != self._identity:
                # `index --rebuild` replaced the index after this object opened it: writing
                # through these handles would mix two indexes.
                raise StoreError(
                    f"the index at {self.path} was rebuilt by another process since it was "
                    "opened here",
                    hint="run the command again",
                )
            if not self.location.is_remote and not (self.path / self.MANIFEST_BACKUP).is_file():
                self.write_manifest(self.path, self.manifest, backup_only=True)  # old indexes
            yield

    # ----------------------------------------------------------------- reads
    def sources(self) -> dict[str, SourceRecord]:
        rows = self._latest("sources").to_table().to_pylist()
        return {r["path"]: SourceRecord(**r) for r in rows}

    def committed(self) -> dict[str, str]:
        """path -> gen of the items that are visible (cached per sources-table version)."""
        with self._cache_lock:
            return self._committed_locked()

    def _committed_locked(self) -> dict[str, str]:
        version = self._version("sources")
        if self._committed_cache is not None and self._committed_cache[0] == version:
            return self._committed_cache[1]
        t = self._at("sources", version).to_table(columns=["path", "gen", "status"])
        committed = {
            p: g
            for p, g, s in zip(
                t.column("path").to_pylist(),
                t.column("gen").to_pylist(),
                t.column("status").to_pylist(),
                strict=True,
            )
            if s == "ok"
        }
        self._committed_cache = (version, committed)
        return committed

    @staticmethod
    def _visible_mask(sources: list[str], gens: list[str], committed: dict[str, str]) -> np.ndarray:
        return np.fromiter(
            (committed.get(s) == g for s, g in zip(sources, gens, strict=True)),
            dtype=bool,
            count=len(sources),
        )

    def get_items(self, ids: Sequence[str], text: bool = True) -> dict[str, StoredItem]:
        """Visible items by id: from the in-memory catalog and one read of their texts by
        row id (:mod:`polyseek.store.catalog`; ``text=False``: no read, texts left
        empty), else by a filtered read."""
        if not ids:
            return {}
        wanted = list(dict.fromkeys(ids))
        catalog = self._item_catalog()
        if catalog is None:
            return self._read_items(wanted)
        rows = catalog.find(wanted)
        texts = (
            self._texts(catalog, rows)
            if text
            else dict.fromkeys(catalog.row_ids(list(rows.values())), "")
        )
        out = catalog.items(rows, texts)
        moved = [i for i in rows if i not in out]  # (not expected: its version's rows)
        if moved:
            out.update(self._read_items(moved))
        return out

    def _read_items(self, ids: Sequence[str]) -> dict[str, StoredItem]:
        """Visible items by id, by a filtered read of the items table."""
        committed = self.committed()
        out: dict[str, StoredItem] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = self._latest("items").to_table(filter=f"id IN ({_sql_list(chunk)})").to_pylist()
            for row in rows:
                if committed.get(row["source"]) == row["gen"]:
                    out[row["id"]] = StoredItem.from_row(row)
        return out

    def _item_catalog(self) -> ItemCatalog | None:
        """The catalog of the current items and sources versions, built the second time
        a version is asked for (None: not built, or too large to keep)."""
        with self._cache_lock:
            version = (self._version("items"), self._version("sources"))
            cached = self._catalog
            if cached is not None and cached.version == version:
                return cached
            if self._catalog_asked != version:  # a one-shot lookup: not worth a scan
                self._catalog_asked = version
                return None
            if version == self._catalog_refused:
                return None
            items = self._at("items", version[0])
            have = set(items.schema.names)
            rows = items.to_table(columns=[c for c in LIGHT_COLUMNS if c in have], with_row_id=True)
            catalog = ItemCatalog.build(version, rows, self._committed_locked())
            if catalog is None:
                self._catalog_refused = version
                return None
            self._catalog = catalog
            logger.debug("item catalog of %d items in memory", len(catalog))
            return catalog

    def _texts(self, catalog: ItemCatalog, rows: dict[str, int]) -> dict[int, str]:
        """Row id -> text of the catalog rows, taken by offset from the items table at
        the catalog's version (the text column alone: each column read is a read)."""
        if not rows:
            return {}
        picked = list(rows.values())
        # Lance's take by offset at the catalog's version, where its offsets hold (0.4 ms
        # for 10 rows at 100k items, LanceDB's take by row id ~4 ms: benchmarks/).
        t = self._at("items", catalog.version[0]).take(
            catalog.offsets(picked), columns=[FTS_COLUMN]
        )
        return dict(zip(catalog.row_ids(picked), t.column(FTS_COLUMN).to_pylist(), strict=True))

    def counts(self) -> dict[str, int]:
        t = self._latest("items").to_table(columns=["source", "gen", "modality"])
        mask = self._visible_mask(
            t.column("source").to_pylist(), t.column("gen").to_pylist(), self.committed()
        )
        out: dict[str, int] = {}
        for modality, visible in zip(t.column("modality").to_pylist(), mask, strict=True):
            if visible:
                out[modality] = out.get(modality, 0) + 1
        return dict(sorted(out.items()))

    def item_texts(self) -> list[tuple[str, str, str]]:
        t = self._latest("items").to_table(columns=["id", "source", "gen", "text"])
        committed = self.committed()
        rows = [
            (i, src, x)
            for i, src, g, x in zip(
                t.column("id").to_pylist(),
                t.column("source").to_pylist(),
                t.column("gen").to_pylist(),
                t.column("text").to_pylist(),
                strict=True,
            )
            if committed.get(src) == g
        ]
        rows.sort()  # table order depends on write history; callers' samples must not
        return rows

    def visible_items(self, columns: Sequence[str]) -> pa.Table:
        """These columns of every visible item row (filters and labels read them)."""
        wanted = list(dict.fromkeys([*columns, "source", "gen"]))
        t = self._latest("items").to_table(columns=wanted)
        mask = self._visible_mask(
            t.column("source").to_pylist(), t.column("gen").to_pylist(), self.committed()
        )
        return t.filter(pa.array(mask, pa.bool_())).select(list(columns))

    def data_version(self) -> tuple[int, ...]:
        return (self._version("items"), self._version("sources"))

    def text_matching(self, pattern: str) -> set[str]:
        """Ids of visible items whose text matches ``pattern``, scanned by LanceDB."""
        committed = self.committed()
        rows = (
            self._latest("items")
            .to_table(
                columns=["id", "source", "gen"],
                filter=f"regexp_like({FTS_COLUMN}, {_sql_list([pattern])})",
            )
            .to_pylist()
        )
        return {r["id"] for r in rows if committed.get(r["source"]) == r["gen"]}

    def table_rows(self) -> dict[str, int]:
        return {name: self._latest(name).count_rows() for name in ["sources", *self._data_tables()]}

    def row_ids(self, name: str) -> list[str]:
        """The item id of every row of a table, visible or not (for consistency checks)."""
        column = "path" if name == "sources" else "id"
        return [str(v) for v in self._latest(name).to_table(columns=[column])[column].to_pylist()]

    def lance_table(self, name: str) -> Any:
        """The LanceDB table behind ``name`` (``items``, ``sources`` or an encoder key).

        For benchmarks that compare with raw LanceDB queries on the same data; polyseek's
        own code goes through the methods above, which hide unfinished writes.
        """
        return self._table(name)

    def disk_bytes(self) -> int:
        if self.location.is_remote:
            return sum(size for _, size in self.location.listing())
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    # ----------------------------------------------------------------- search
    def vectors(self, encoder_key: str) -> VectorView:
        """The visible vectors of one encoder, in memory (rebuilt when a table moves)."""
        with self._cache_lock:
            return self._vectors_locked(encoder_key)

    def _vectors_locked(self, encoder_key: str) -> VectorView:
        version, sources_version = self._version(encoder_key), self._version("sources")
        cache = self._caches.get(encoder_key)
        if cache and cache.version == (version, sources_version):
            return cache
        # The rows of exactly that version, with their row ids (ANN results name them).
        data = self._at(encoder_key, version).to_table(with_row_id=True)
        cache = self._view_of(encoder_key, (version, sources_version), data)
        self._caches[encoder_key] = cache
        logger.debug("loaded %d vectors of %s into memory", len(cache), encoder_key)
        return cache

    def _view_of(self, encoder_key: str, version: tuple[int, int], data: pa.Table) -> VectorView:
        """The visible rows of ``data`` (rows of a vector table, with row ids) as a view."""
        mask = self._visible_mask(
            data.column("source").to_pylist(), data.column("gen").to_pylist(), self.committed()
        )
        dim = next(e.dim for e in self.manifest.encoders if e.key == encoder_key)
        flat = data.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        matrix = np.asarray(flat, dtype=np.float32).reshape(-1, dim)[mask]
        codes = np.array(
            [MODALITY_CODES[m] for m in data.column("modality").to_pylist()], dtype=np.int8
        )[mask]
        ids = np.array(data.column("id").to_pylist(), dtype=object)[mask]
        part = None
        if "part" in data.column_names:
            part = data.column("part").to_numpy(zero_copy_only=False).astype(np.int32)[mask]
        return VectorView(
            encoder_key,
            version,
            ids,
            codes,
            np.ascontiguousarray(matrix),
            part=part,
            row_ids=data.column(ROW_ID).to_numpy().astype(np.uint64)[mask],
        )

    def vectors_of(self, encoder_key: str, item_ids: Sequence[str]) -> VectorView:
        """The loaded vectors if current, else all of them if the table is small enough
        to keep (:attr:`RESIDENT_VECTOR_BYTES`), else only these items' rows, read by id
        from the table's version: a query over a table too large to hold scores its few
        candidates without loading the float32 matrix (15 GB at 10M x 384)."""
        view = self._current_view(encoder_key)
        if view is not None:
            return view
        version = (self._version(encoder_key), self._version("sources"))
        if not self._too_large(encoder_key, version[0]):
            return self.vectors(encoder_key)
        wanted = list(dict.fromkeys(item_ids))
        parts = [
            self._at(encoder_key, version[0]).to_table(
                filter=f"id IN ({_sql_list(chunk)})", with_row_id=True
            )
            for chunk in _chunks(wanted)
        ]
        if not parts:  # no ids: an empty view of the same schema
            parts = [self._at(encoder_key, version[0]).to_table(limit=0, with_row_id=True)]
        return self._view_of(encoder_key, version, pa.concat_tables(parts))

    def _too_large(self, encoder_key: str, version: int) -> bool:
        """Whether a version of a vector table is too large to hold in memory."""
        found = self._sizes.get(encoder_key)
        if found is None or found[0] != version:
            dim = next(e.dim for e in self.manifest.encoders if e.key == encoder_key)
            rows = self._at(encoder_key, version).count_rows()
            found = self._sizes[encoder_key] = (version, rows * dim * 4)
        return found[1] > self.RESIDENT_VECTOR_BYTES

    def vector_modalities(self, encoder_key: str) -> frozenset[Modality]:
        """The modalities of one encoder's visible rows: from its in-memory vectors when
        they are loaded, else from a read of three columns kept per table version (a
        search over an ANN-indexed table need not hold the float32 matrix: 1.5 GB at
        1M x 384)."""
        view = self._current_view(encoder_key)
        if view is not None:
            return super().vector_modalities(encoder_key)
        version = (self._version(encoder_key), self._version("sources"))
        found = self._modalities.get(encoder_key)
        if found is not None and found[0] == version:
            return found[1]
        data = self._at(encoder_key, version[0]).to_table(columns=["modality", "source", "gen"])
        mask = self._visible_mask(
            data.column("source").to_pylist(), data.column("gen").to_pylist(), self.committed()
        )
        present = frozenset(
            m for m, keep in zip(data.column("modality").to_pylist(), mask, strict=True) if keep
        )
        self._modalities[encoder_key] = (version, present)
        return present

    def search_vectors(
        self,
        encoder_key: str,
        queries: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None = None,
        exact: bool | None = None,
        first_pass: FirstPass | str | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-k per query. ``exact=None`` uses the ANN index when the table has one."""
        fp = FirstPass.parse(first_pass).for_dim(queries.shape[-1])
        if not fp.is_exact:  # compressed in-memory pass + exact rescoring, instead of ANN
            if exact is False:
                raise QueryError(f"first pass {fp.spec} and the ANN path are alternatives")
            cache = self.vectors(encoder_key)
            keep = None
            if modalities:
                keep = np.isin(cache.modality, [MODALITY_CODES[m] for m in modalities])
            return first_pass_search(
                fp, cache.matrix, cache.ids, queries, k, keep, cache.compressed
            )
        if exact is False or (exact is None and self.has_ann_index(encoder_key)):
            return [self._search_ann(encoder_key, q, k, modalities) for q in queries]
        return self._search_exact(encoder_key, queries, k, modalities)

    # ANN: LanceDB IVF_HNSW_SQ with full-precision re-scoring of 5x the candidates; on
    # 100k MiniLM vectors here: ~5 ms per query at recall@10 ~0.97 (benchmarks/).
    ANN_MIN_ROWS = ANN_MIN_ROWS
    ANN_REFINE = 5
    ANN_NPROBES = 20
    ANN_OVERFETCH = 2  # rows fetched per wanted item (more when repeated ids crowd them out)

    def has_ann_index(self, encoder_key: str) -> bool:
        if encoder_key not in self._ann:
            indices = self._reader.indexes(encoder_key, self._version(encoder_key))
            self._ann[encoder_key] = any("vector" in columns for _, columns in indices)
        return self._ann[encoder_key]

    def build_ann_index(self, encoder_key: str, plan: AnnPlan | None = None) -> AnnPlan:
        """(Re)build the on-disk ANN index of one vector table, chosen by its size
        (:mod:`polyseek.store.ann`), and record the recall it measures (minutes for
        millions of rows)."""
        table = self._table(encoder_key)
        dim = next(e.dim for e in self.manifest.encoders if e.key == encoder_key)
        rows = table.count_rows()
        plan = plan or plan_for(rows, dim, force=True)
        if plan is None:
            raise StoreError(f"no ANN index plan for {encoder_key} ({rows} rows)")
        logger.info("building the %s index of %s (%d rows)", plan.index_type, encoder_key, rows)
        started = time.perf_counter()
        if self.index_builder is not None:
            self.index_builder.vector_index(
                str(table.uri), self.location.lance_options() or None, plan
            )
        else:
            table.create_index(**plan.index_kwargs())
        built = time.perf_counter() - started
        recall = measure_recall(table, plan)
        report = {
            **self.ann_report(),
            encoder_key: {
                **plan.to_dict(),
                "recall_at_10": recall,
                "build_seconds": round(built, 1),
            },
        }
        (self.path / "ann.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        self.location.upload("ann.json")
        self._ann[encoder_key] = True
        self._plans[encoder_key] = plan
        logger.info("%s: recall@10 %.3f against exhaustive search", encoder_key, recall)
        return plan

    def ann_report(self) -> dict[str, dict[str, Any]]:
        """Per encoder key: the ANN index built, its parameters and measured recall@10."""
        try:
            data = json.loads((self.path / "ann.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _plan(self, encoder_key: str) -> tuple[int, int]:
        """(nprobes, refine_factor) the index of a table was built for."""
        plan = self._plans.get(encoder_key)
        if plan is None:
            rec = self.ann_report().get(encoder_key, {})
            return int(rec.get("nprobes", self.ANN_NPROBES)), int(
                rec.get("refine_factor", self.ANN_REFINE)
            )
        return plan.nprobes, plan.refine_factor

    ID_INDEX_MIN_ROWS = 10_000

    def maintain_indexes(self, min_rows: int | None = None) -> None:
        """Index item ids for lookups and build ANN indexes for large vector tables.

        Existing indexes take in new rows on :meth:`compact`; unindexed rows are still
        searched (exhaustively) until then.
        """
        items = self._table("items")
        if items.count_rows() >= self.ID_INDEX_MIN_ROWS and not any(
            "id" in ix.columns for ix in items.list_indices()
        ):
            items.create_scalar_index("id", index_type="BTREE")
        threshold = self.ANN_MIN_ROWS if min_rows is None else min_rows
        for enc in self.manifest.encoders:
            table = self._table(enc.key)
            rows = table.count_rows()
            if rows * enc.dim * 4 > self.RESIDENT_VECTOR_BYTES and not any(
                "id" in ix.columns for ix in table.list_indices()
            ):  # searches read candidates' rows by id (:meth:`vectors_of`), not the matrix
                table.create_scalar_index("id", index_type="BTREE")
            if rows >= threshold and not self.has_ann_index(enc.key):
                self.build_ann_index(enc.key)
            elif self.has_ann_index(enc.key):  # new rows: one more segment, no rebuild
                ds = self._table(enc.key).to_lance()
                if ds.stats.index_stats(VECTOR_INDEX_NAME)["num_unindexed_rows"]:
                    append_new_rows(ds, [VECTOR_INDEX_NAME])

    def _search_ann(
        self,
        encoder_key: str,
        query: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None,
        overfetch: int = 1,
    ) -> list[tuple[str, float]]:
        view = self._current_view(encoder_key) or self._resident_view(encoder_key)
        if view is not None:
            return self._search_ann_rescored(view, query, k, modalities)
        committed = self.committed()
        nprobes, refine = self._plan(encoder_key)
        # room for rows of an unfinished write (filtered out below) and for repeated ids
        # (max-sim keyframe rows; each item is kept once, at its best row)
        limit = k * overfetch * self.ANN_OVERFETCH + 10
        rows = self._nearest(
            encoder_key,
            self._version(encoder_key),
            np.asarray(query, dtype=np.float32),
            limit,
            nprobes,
            modalities,
            refine_factor=refine,
            columns=["id", "source", "gen"],
        ).to_pylist()
        visible = [r for r in rows if committed.get(r["source"]) == r["gen"]]
        visible.sort(key=lambda r: (float(r["_distance"]), r["id"]))  # ties: by id
        found = dedupe_best(((r["id"], 1.0 - float(r["_distance"])) for r in visible), k)
        if len(found) < k and len(rows) == limit and overfetch < 64:
            return self._search_ann(encoder_key, query, k, modalities, overfetch * 4)
        return found

    def _nearest(
        self,
        encoder_key: str,
        version: int,
        query: np.ndarray,
        limit: int,
        nprobes: int,
        modalities: Sequence[Modality] | None,
        refine_factor: int | None = None,
        columns: Sequence[str] = (),
    ) -> pa.Table:
        """The ANN index's ``limit`` nearest rows (``columns``, ``_distance``, row ids) of
        one version of a vector table, by cosine, prefiltered by modality.

        Through Lance itself, the engine under LanceDB's ``Table.search``: the same index,
        parameters and rows (tests/unit/store), without LanceDB's query builder and its
        round trips through an event loop (1.7 ms vs 6.7 ms at 100k rows: benchmarks/)."""
        nearest: dict[str, Any] = {
            "column": "vector",
            "q": query,
            "k": limit,
            "nprobes": nprobes,
            "metric": "cosine",
        }
        if refine_factor is not None:
            nearest["refine_factor"] = refine_factor
        where = f"modality IN ({_sql_list(list(modalities))})" if modalities else None
        return self._at(encoder_key, version).to_table(
            columns=[*columns, "_distance"],
            nearest=nearest,
            filter=where,
            prefilter=where is not None,
            with_row_id=True,
        )

    # A table's float32 vectors are kept in memory for its ANN queries up to this size:
    # the index's head is then re-scored exactly in memory (100k x 384: 5.9 ms a query
    # against 14 ms re-scored from disk by Lance's refine, which a query rolling regions
    # up under pages asks of ~450 rows). Above it search stays memory-flat.
    RESIDENT_VECTOR_BYTES = 2 * 2**30

    def _resident_view(self, encoder_key: str) -> VectorView | None:
        """The in-memory vectors of a table small enough to keep, loaded the second time
        a version is searched (a one-shot command does not read 1.5 GB for one query),
        else None."""
        version = (self._version(encoder_key), self._version("sources"))
        if self._resident_asked.get(encoder_key) != version:
            self._resident_asked[encoder_key] = version
            return None
        return None if self._too_large(encoder_key, version[0]) else self.vectors(encoder_key)

    def _current_view(self, encoder_key: str) -> VectorView | None:
        """The in-memory vectors of one encoder if they are loaded and current."""
        with self._cache_lock:
            cache = self._caches.get(encoder_key)
            if cache is None:
                return None
            version = (self._version(encoder_key), self._version("sources"))
            return cache if cache.version == version else None

    def _search_ann_rescored(
        self,
        view: VectorView,
        query: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None,
        overfetch: int = 1,
    ) -> list[tuple[str, float]]:
        """ANN candidates re-scored exactly from the in-memory vectors instead of from
        the table (LanceDB's ``refine_factor`` reads each candidate's row from disk).

        The index is asked for as many candidates as the refine would re-score; those not
        in ``view`` (rows of an unfinished write, or added since the view) are left out:
        the view is the snapshot the query reads.
        """
        nprobes, refine = self._plan(view.encoder_key)
        rows_per_item = self.ANN_OVERFETCH if view.repeats_items() else 1
        limit = k * overfetch * rows_per_item * refine
        q = np.asarray(query, dtype=np.float32)
        # The view's own version of the table: its row ids are the view's (reading them
        # instead of the id column is a third of the query's cost).
        row_ids = (
            self._nearest(view.encoder_key, view.version[0], q, limit, nprobes, modalities)
            .column(ROW_ID)
            .to_numpy()
        )
        rows = view.rows_at(row_ids)
        if view.repeats_items():  # an item's best row may be one the index did not return
            scores = view.best_scores(list(dict.fromkeys(view.ids[rows].tolist())), q, modalities)
        else:  # one row an item: the candidate rows are the items (no lookup by id)
            if modalities:
                rows = rows[np.isin(view.modality[rows], [MODALITY_CODES[m] for m in modalities])]
            scores = dict(
                zip(view.ids[rows].tolist(), (view.matrix[rows] @ q).tolist(), strict=True)
            )
        found = sorted(scores.items(), key=lambda p: (-p[1], p[0]))[:k]  # ties: by id
        if len(found) < k and len(row_ids) == limit and overfetch < 64:
            return self._search_ann_rescored(view, query, k, modalities, overfetch * 4)
        return found

    def _search_exact(
        self,
        encoder_key: str,
        queries: np.ndarray,
        k: int,
        modalities: Sequence[Modality] | None = None,
    ) -> list[list[tuple[str, float]]]:
        cache = self.vectors(encoder_key)
        if len(cache.ids) == 0:
            return [[] for _ in range(len(queries))]
        scores = query_scores(cache.matrix, queries)
        if modalities:
            # Mask rows instead of copying the matrix per query (150 MB at 100k x 384).
            keep = np.isin(cache.modality, [MODALITY_CODES[m] for m in modalities])
            scores[:, ~keep] = -np.inf
        # An item may have several rows (max-sim keyframes): each id once, at its best row.
        return [
            [(i, s) for i, s in top_unique(row, cache.ids, k) if s != -np.inf] for row in scores
        ]

    def search_multivector(
        self,
        encoder_key: str,
        queries: Sequence[np.ndarray],
        k: int,
        modalities: Sequence[Modality] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """Top-k (item id, MaxSim) per query token matrix: exact over the in-memory rows
        (:mod:`polyseek.store.maxsim`; ANN indexes and first passes play no part)."""
        return maxsim_search(self.vectors(encoder_key), queries, k, modalities)

    # ----------------------------------------------------------------- full text
    def has_text_index(self) -> bool:
        """Whether the items' text has its full-text index (known per table version)."""
        version = self._version("items")
        if self._text_index is not None and self._text_index[0] == version:
            return self._text_index[1]
        found = any(
            FTS_COLUMN in columns and kind == FTS_INDEX_TYPE
            for kind, columns in self._reader.indexes("items", version)
        )
        self._text_index = (version, found)
        return found

    def unindexed_text_rows(self) -> int | None:
        """Item rows the full-text index does not hold yet (None: there is no index)."""
        if not self.has_text_index():
            return None
        stats = self._table("items").index_stats(f"{FTS_COLUMN}_idx")
        return None if stats is None else int(stats.num_unindexed_rows)

    # The local full-text index of a table this large takes in new rows as one more
    # segment instead of a rebuild (100 rows added to 100k: 17x less CPU,
    # benchmarks/index_update.py), up to this many segments; then one rebuild folds them.
    # Below it the index is rebuilt: a delta segment gives BM25 scores a little off a
    # single-segment build (4th decimal), and a small collection's scores stay those of a
    # clean index (what `polyseek repair` rebuilds).
    TEXT_APPEND_MIN_ROWS = 100_000
    TEXT_MAX_SEGMENTS = 16

    def ensure_text_index(self) -> None:
        """Build the BM25 index of the items' text, or index only new rows (one more index
        segment: :mod:`polyseek.store.distributed_index`)."""
        table = self._table("items")
        unindexed = self.unindexed_text_rows()
        rows = table.count_rows()
        if rows == 0 or unindexed == 0:
            return
        ray = self.index_builder if self.index_builder and self.index_builder.text else None
        dataset = table.to_lance() if unindexed is not None else None
        appends = dataset is not None and (
            ray is not None
            or (
                rows >= self.TEXT_APPEND_MIN_ROWS
                and len(segments(dataset, TEXT_INDEX_NAME)) < self.TEXT_MAX_SEGMENTS
            )
        )
        if appends:
            append_new_rows(dataset, [TEXT_INDEX_NAME])
            logger.info("indexed %d new items' text", unindexed)
        elif ray is not None:
            ray.text_index(str(table.uri), self.location.lance_options() or None, FTS_COLUMN)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table.create_fts_index(FTS_COLUMN, replace=True, with_position=False)
            logger.info("built the full-text index over %d items", rows)
        self._text_index = None

    def search_text(
        self,
        query: str,
        k: int,
        modalities: Sequence[Modality] | None = None,
        within: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Top-k (item id, BM25 score) for plain words (no query syntax), best first.

        ``within`` (item ids) is a prefilter of the full-text search, as modalities are.
        """
        if not query.strip() or k < 1:
            return []
        if not self.has_text_index():
            try:  # built lazily when an index run stopped before making it
                self.ensure_text_index()
            except Exception as exc:  # a full disk or a read-only index: still searchable
                logger.warning(
                    "cannot build the full-text index of %s (%s): searching without BM25",
                    self.path,
                    exc,
                )
            if not self.has_text_index():
                return []
        clauses = [f"modality IN ({_sql_list(list(modalities))})"] if modalities else []
        if within is not None:
            if not within:
                return []
            clauses.append(f"id IN ({_sql_list(list(within))})")
        catalog = self._current_catalog()
        # With a current catalog, the catalog's version of the table answers with row ids
        # alone (the catalog knows which are visible, and their ids).
        version = self._version("items") if catalog is None else catalog.version[0]
        t = self._at("items", version).to_table(
            columns=["_score"] if catalog is not None else ["id", "source", "gen", "_score"],
            full_text_query={"query": query, "columns": [FTS_COLUMN]},
            filter=" AND ".join(clauses) if clauses else None,
            prefilter=True if clauses else None,
            limit=k + 10,  # room for rows of an unfinished write, filtered out below
            with_row_id=catalog is not None,
        )
        if catalog is not None:
            found = catalog.at_row_ids(t.column(ROW_ID).to_numpy(), t.column("_score").to_numpy())
        else:
            committed = self.committed()
            found = [
                (r["id"], float(r["_score"]))
                for r in t.to_pylist()
                if committed.get(r["source"]) == r["gen"]
            ]
        # Ties broken by id so that the same index always gives the same order.
        found.sort(key=lambda r: (-r[1], r[0]))
        return found[:k]

    def _current_catalog(self) -> ItemCatalog | None:
        """The item catalog if it is the current versions' (never built here)."""
        with self._cache_lock:
            catalog = self._catalog
            if catalog is None:
                return None
            current = catalog.version == (self._version("items"), self._version("sources"))
            return catalog if current else None

    # ----------------------------------------------------------------- writes
    def _columns(self, name: str) -> set[str]:
        """The columns a table has (indexes made before a column was added lack it)."""
        return set(self._table(name).schema.names)

    def stage(self, batch: SourceBatch) -> None:
        """Write a batch's items and vectors; invisible until its records are committed."""
        if batch.items:
            have = self._columns("items")
            schema = pa.schema([f for f in ITEMS_SCHEMA if f.name in have])
            rows = [{k: v for k, v in it.row().items() if k in have} for it in batch.items]
            self._table("items").add(pa.Table.from_pylist(rows, schema=schema))
        by_id = {it.id: it for it in batch.items}
        for enc in self.manifest.encoders:
            ids, vectors = batch.vectors.get(enc.key, ([], np.zeros((0, enc.dim), np.float32)))
            if ids:
                self._add_vectors(enc, [by_id[i] for i in ids], vectors)

    def commit(self, batch: SourceBatch) -> None:
        if not batch.records:
            return
        self.stage(batch)
        self._upload_media(batch.items)  # before the commit point: committed => on the store
        _check_lease(self.location)
        prior = self._recorded_gens([r.path for r in batch.records])
        # The commit point: one atomic upsert of the source records.
        records = pa.Table.from_pylist([r.__dict__ for r in batch.records], schema=SOURCES_SCHEMA)
        (
            self._table("sources")
            .merge_insert("path")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(records)
        )
        # Only sources recorded before with another generation have rows to drop: a new
        # source has none (rows an interrupted run left are recover()'s, which every run
        # starts with). Each delete scans the data tables: deleting for every new source
        # made a batch's commit grow with the collection (0.85 s of 2.1 s at 1M items).
        self._delete_superseded([r for r in batch.records if prior.get(r.path, r.gen) != r.gen])

    def _recorded_gens(self, paths: Sequence[str]) -> dict[str, str]:
        """path -> generation of the source records these paths have (none: absent)."""
        out: dict[str, str] = {}
        for chunk in _chunks(list(dict.fromkeys(paths))):
            t = self._latest("sources").to_table(
                columns=["path", "gen"], filter=f"path IN ({_sql_list(chunk)})"
            )
            out.update(zip(t.column("path").to_pylist(), t.column("gen").to_pylist(), strict=True))
        return out

    def _add_vectors(self, enc: EncoderInfo, items: list[StoredItem], vectors: np.ndarray) -> None:
        owners = [RowOwner(it.id, it.source, it.gen, it.modality) for it in items]
        have = self._columns(enc.key)
        schema = pa.schema([f for f in vector_schema(enc.dim) if f.name in have])
        self._table(enc.key).add(vector_rows(enc.dim, schema, owners, vectors, enc.spec))

    def fragment_target(self, key: str) -> FragmentTarget:
        """Where workers write fragments of encoder ``key``'s vector table (see
        :mod:`polyseek.store.fragments`); :meth:`append_fragments` stages them."""
        enc = next(e for e in self.manifest.encoders if e.key == key)
        table = self._table(key)
        have = self._columns(key)
        with lance_errors(key, self.path):
            storage_version = table.to_lance().data_storage_version
        return FragmentTarget(
            table=key,
            uri=str(table.uri),
            schema=pa.schema([f for f in vector_schema(enc.dim) if f.name in have]),
            dim=enc.dim,
            storage_options=self.location.lance_options() or None,
            data_storage_version=storage_version,
        )

    def append_fragments(self, key: str, fragments: Sequence[str]) -> None:
        """Stage fragments written by workers (one ``Append`` commit): their rows are
        invisible until the source records naming their generation are committed."""
        if not fragments:
            return
        lance = import_lance()
        target = self._table(key)
        with lance_errors(key, self.path):
            dataset = target.to_lance()
            lance.LanceDataset.commit(
                dataset.uri,
                lance.LanceOperation.Append(fragments_from_json(fragments)),
                read_version=dataset.version,
                storage_options=self.location.lance_options() or None,
            )

    def _data_tables(self) -> list[str]:
        return ["items", *(e.key for e in self.manifest.encoders)]

    def _delete_superseded(self, records: Sequence[SourceRecord]) -> None:
        if not records:
            return
        paths = [r.path for r in records]
        gens = [r.gen for r in records]
        for name in self._data_tables():
            for chunk in _chunks(paths):
                self._table(name).delete(
                    f"source IN ({_sql_list(chunk)}) AND gen NOT IN ({_sql_list(gens)})"
                )
        for record in records:
            self._prune_media(record.path, keep_gen=record.gen)

    def remove_sources(self, paths: Sequence[str]) -> int:
        known = self.sources()
        paths = [p for p in paths if p in known]
        if not paths:
            return 0
        _check_lease(self.location)
        for chunk in _chunks(paths):
            # Deleting the record first makes the items invisible at once.
            self._table("sources").delete(f"path IN ({_sql_list(chunk)})")
            for name in self._data_tables():
                self._table(name).delete(f"source IN ({_sql_list(chunk)})")
        for path in paths:
            self._prune_media(path, keep_gen=None)
        return len(paths)

    def _upload_media(self, items: Sequence[StoredItem]) -> None:
        if self.location.is_remote:
            for it in items:
                if it.preview and (self.path / it.preview).is_file():
                    self.location.upload(it.preview)

    def preview_file(self, item: StoredItem) -> Path | None:
        if not item.preview:
            return None
        if self.location.is_remote:  # fetched once from the store, then kept
            return self.location.download(item.preview) or self.path / item.preview
        return self.path / item.preview

    def _prune_media(self, source: str, keep_gen: str | None) -> None:
        """Delete a source's previews except those of generation ``keep_gen``."""
        if self.location.is_remote:
            for name, _ in self.location.listing(f"media/{_media_dirname(source)}"):
                if keep_gen is None or Path(name).stem.partition(".")[2] != keep_gen:
                    self.location.delete(name)
        folder = self.media_dir / _media_dirname(source)
        if not folder.is_dir():
            return
        for f in folder.iterdir():
            if keep_gen is None or f.stem.partition(".")[2] != keep_gen:
                f.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)

    def media_path(self, source: str, item_id: str, gen: str) -> Path:
        """Where the preview of an item goes (one folder per source, named by its hash)."""
        return self.media_dir / _media_dirname(source) / f"{item_id}.{gen}.jpg"

    def recover(self) -> int:
        """Delete rows and previews whose source record does not name their generation."""
        committed = self.committed()
        removed = 0
        for name in self._data_tables():
            t = self._table(name).to_arrow().select(["source", "gen"])
            sources, gens = t.column("source").to_pylist(), t.column("gen").to_pylist()
            stale: dict[str, set[str]] = {}
            for s, g in zip(sources, gens, strict=True):
                if committed.get(s) != g:
                    stale.setdefault(g, set()).add(s)
            for gen, srcs in stale.items():
                for chunk in _chunks(sorted(srcs)):
                    before = self._table(name).count_rows()
                    self._table(name).delete(
                        f"gen = {_sql_list([gen])} AND source IN ({_sql_list(chunk)})"
                    )
                    removed += before - self._table(name).count_rows()
        if self.media_dir.is_dir():
            names = {_media_dirname(s): s for s in committed}
            for source_dir in list(self.media_dir.iterdir()):
                source = names.get(source_dir.name)
                if source is None:
                    shutil.rmtree(source_dir, ignore_errors=True)
                    continue
                for f in source_dir.iterdir():
                    if f.stem.partition(".")[2] != committed[source]:
                        f.unlink(missing_ok=True)
        if removed:
            logger.info("recovered the index: removed %d rows left by an interrupted run", removed)
        return removed

    def compact(self) -> None:
        """Merge small fragments and drop old versions (after large runs)."""
        for name in ["sources", *self._data_tables()]:
            try:
                self._table(name).optimize(cleanup_older_than=timedelta(minutes=10))
            except Exception as exc:  # compaction is an optimisation, never fatal
                logger.warning("could not compact table %s: %s", name, exc)


_LEASES: dict[str, WriterLease] = {}  # the leases this process holds, by store URI


def _check_lease(location: StoreLocation) -> None:
    """Refuse to commit into an object store whose writer lease this process lost."""
    lease = _LEASES.get(location.uri)
    if location.is_remote and (lease is None or lease.lost):
        raise StoreError(
            f"this process does not hold the writer lease of {location} (any more)",
            hint="another writer may have taken it: run the command again",
        )


def _location(path: Path | StoreLocation) -> StoreLocation:
    return path if isinstance(path, StoreLocation) else StoreLocation(str(path))


@contextmanager
def write_lock(store: Path | StoreLocation) -> Iterator[None]:
    """Hold the write lock of a store: a flock (released if killed) on disk, a lease
    (expires if its holder is killed) on object storage."""
    loc = _location(store)
    if loc.is_remote:
        with loc.lease() as lease:
            _LEASES[loc.uri] = lease
            try:
                yield
            finally:
                _LEASES.pop(loc.uri, None)
        return
    store_path = loc.local_dir
    fd = os.open(store_path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StoreError(
            f"another process is writing the index at {store_path}",
            hint="wait for the other `polyseek index` (or repair) to finish",
        ) from exc
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, mtime) of a file: changes when the file is replaced (a rebuilt
    manifest). The inode alone is not enough: a file system reuses a deleted file's inode
    for the next file it creates."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def _media_dirname(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:16]
