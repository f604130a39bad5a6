"""Verify the tables of a LanceDB store and bring damaged ones back.

The collection is the source of truth and the index is derived data, so a damaged index
can always be recovered; this module does the store's part of it:

* :func:`inspect_tables` opens every table, reads all of its rows at its latest version
  (every column, so a truncated or overwritten data file shows), and queries every
  index it has (full-text, id lookup, ANN) once.
* :func:`repair_tables` fixes what that found, cheapest first: a table whose newest
  version manifest is unreadable loses that manifest (moved to ``damaged/``) so that
  the previous version becomes current; a table whose data cannot be read is restored
  to its newest version that reads completely (Lance's own time travel:
  ``list_versions`` / ``checkout`` / ``restore``), or, when no version does, re-created
  empty; a damaged index is dropped (the caller rebuilds it).
* :func:`consistency` compares the tables once they read: items per committed source,
  one vector per item that its encoder embeds, no vector or item without its source.

Which sources lost rows is the caller's business: :mod:`polyseek.maintenance` re-indexes
them from the collection. Nothing is deleted: damaged files are moved to ``damaged/``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa

from polyseek.errors import DamagedIndexError, PolyseekError
from polyseek.store.base import Manifest
from polyseek.store.guard import GuardedTable, lance_errors
from polyseek.store.lancedb import ITEMS_SCHEMA, SOURCES_SCHEMA, LanceStore, vector_schema

logger = logging.getLogger(__name__)

DAMAGED_DIR = "damaged"
MANIFEST_BACKUP = LanceStore.MANIFEST_BACKUP
_U64 = 2**64 - 1


@dataclass(frozen=True)
class Finding:
    """One thing :func:`inspect_tables` or :func:`consistency` found wrong.

    ``sources``: collection files whose rows are missing or wrong (repair re-indexes
    them); ``derived``: only derived data is affected (an index, statistics), rebuilt
    without reading any file.
    """

    part: str
    problem: str
    sources: tuple[str, ...] = ()
    derived: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "problem": self.problem,
            "sources": list(self.sources),
            "derived": self.derived,
        }


@dataclass
class TableHealth:
    """What reading one table found: its version and rows, or what is wrong with it."""

    name: str
    version: int | None = None
    rows: int | None = None
    versions: int = 0
    problem: str | None = None  # the table itself (manifest or data) cannot be read
    opens: bool = True  # False: even its newest version manifest is unreadable
    bad_indexes: list[tuple[str, str]] = field(default_factory=list)  # (index name, reason)

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.bad_indexes

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "rows": self.rows,
            "versions": self.versions,
            "problem": self.problem,
            "bad_indexes": [{"index": n, "problem": r} for n, r in self.bad_indexes],
        }


# --------------------------------------------------------------------------- manifest
def read_manifest(store_path: Path) -> Manifest:
    """The manifest of the store, from ``manifest.json`` or else its backup copy.

    Raises :class:`DamagedIndexError` when neither reads.
    """
    errors = []
    for name in (LanceStore.MANIFEST, MANIFEST_BACKUP):
        path = store_path / name
        try:
            return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            errors.append(f"{name}: missing")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            errors.append(f"{name}: {exc}")
    raise DamagedIndexError(
        "manifest.json",
        f"the manifest of the index at {store_path} is unreadable ({'; '.join(errors)})",
        hint="`polyseek index DIR --rebuild --encoder SPEC` re-creates the index with the "
        "encoders you name (e.g. --encoder minilm)",
    )


def restore_manifest(store_path: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` (and its backup) again, atomically."""
    LanceStore.write_manifest(store_path, manifest)


# --------------------------------------------------------------------------- inspect
def table_schemas(manifest: Manifest) -> dict[str, pa.Schema]:
    """The tables a store with this manifest has, and the schema each is created with."""
    schemas = {"sources": SOURCES_SCHEMA, "items": ITEMS_SCHEMA}
    for enc in manifest.encoders:
        schemas[enc.key] = vector_schema(enc.dim)
    return schemas


def _connect(store_path: Path) -> Any:
    return lancedb.connect(str(store_path / "db"))


def _open(db: Any, name: str, store_path: Path) -> Any:
    with lance_errors(name, store_path):
        return GuardedTable(db.open_table(name), name, store_path)


def _table_dir(store_path: Path, name: str) -> Path:
    return store_path / "db" / f"{name}.lance"


def _read_all(table: Any) -> pa.Table:
    """Every row and column of the checked-out version (raises when a file is damaged)."""
    data = table.to_arrow()
    counted = table.count_rows()
    if counted != data.num_rows:
        raise DamagedIndexError("rows", f"{data.num_rows} rows read, {counted} counted")
    return data


def _probe_indexes(table: Any, data: pa.Table) -> list[tuple[str, str]]:
    """Query every index of ``table`` once; (index name, reason) of those that fail."""
    bad: list[tuple[str, str]] = []
    try:
        indices = list(table.list_indices())
    except PolyseekError as exc:
        return [("(list of indexes)", exc.message)]
    for ix in indices:
        name, kind, columns = ix.name, str(ix.index_type), list(ix.columns)
        try:
            table.index_stats(name)
            if kind == "FTS":
                word = _some_word(data, columns[0])
                table.search(word, query_type="fts", fts_columns=columns[0]).limit(3).to_arrow()
            elif "vector" in columns and data.num_rows:
                vec = np.asarray(data.column("vector")[0].as_py(), dtype=np.float32)
                table.search(vec).distance_type("cosine").limit(3).select(["id"]).to_arrow()
            elif data.num_rows and columns:
                value = str(data.column(columns[0])[0].as_py()).replace("'", "''")
                table.search().where(f"{columns[0]} = '{value}'").limit(1).to_arrow()
        except PolyseekError as exc:
            bad.append((name, exc.message))
    return bad


def _some_word(data: pa.Table, column: str) -> str:
    if data.num_rows:
        for text in data.column(column).to_pylist()[:50]:
            words = [w for w in (text or "").split() if w.isalpha() and len(w) > 3]
            if words:
                return words[0]
    return "polyseek"


def inspect_table(store_path: Path, name: str) -> TableHealth:
    """Open ``name``, read it completely, query its indexes."""
    health = TableHealth(name)
    try:
        table = _open(_connect(store_path), name, store_path)
    except PolyseekError as exc:
        health.problem, health.opens = exc.message, False
        return health
    try:
        health.version = int(table.version)
        health.versions = len(table.list_versions())
        data = _read_all(table)
    except PolyseekError as exc:
        health.problem = exc.message
        return health
    health.rows = data.num_rows
    health.bad_indexes = _probe_indexes(table, data)
    return health


def inspect_tables(store_path: Path, manifest: Manifest) -> dict[str, TableHealth]:
    """The health of every table the manifest names (a missing table is a problem too)."""
    try:
        with lance_errors("(list of tables)", store_path):
            existing = set(_connect(store_path).table_names())
    except PolyseekError as exc:
        existing = set()
        logger.warning("cannot list the tables of %s: %s", store_path, exc.message)
    out: dict[str, TableHealth] = {}
    for name in table_schemas(manifest):
        if name not in existing and not _table_dir(store_path, name).is_dir():
            out[name] = TableHealth(name, problem="the table is missing", opens=False)
            continue
        out[name] = inspect_table(store_path, name)
    return out


# --------------------------------------------------------------------------- repair
def _quarantine(store_path: Path, path: Path) -> Path:
    """Move a damaged file or folder to ``<store>/damaged/<stamp>/...`` (kept, not deleted)."""
    rel = path.relative_to(store_path)
    dest = store_path / DAMAGED_DIR / time.strftime("%Y%m%d-%H%M%S") / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(dest))
    return dest


def _manifest_version(path: Path) -> int | None:
    try:
        n = int(path.stem)
    except ValueError:
        return None
    return _U64 - n if n > 2**63 else n  # Lance's v2 names count down from 2**64 - 1


def _drop_newest_manifest(store_path: Path, name: str) -> int | None:
    """Move the newest version manifest of ``name`` aside; the version it was, or None."""
    versions_dir = _table_dir(store_path, name) / "_versions"
    manifests = [
        (v, p) for p in versions_dir.glob("*.manifest") if (v := _manifest_version(p)) is not None
    ]
    if len(manifests) <= 1:
        return None
    version, newest = max(manifests)
    _quarantine(store_path, newest)
    hint = versions_dir / "latest_version_hint.json"
    if hint.exists():
        _quarantine(store_path, hint)
    return version


def _roll_back(table: Any) -> int | None:
    """Restore the newest version that reads completely; that version, or None."""
    latest = int(table.version)
    versions = sorted((int(v["version"]) for v in table.list_versions()), reverse=True)
    for version in versions:
        if version >= latest:
            continue
        try:
            table.checkout(version)
            _read_all(table)
        except PolyseekError:
            continue
        finally:
            table.checkout_latest()
        table.restore(version)
        return version
    return None


def _recreate(store_path: Path, name: str, schema: pa.Schema) -> None:
    db = _connect(store_path)
    folder = _table_dir(store_path, name)
    if folder.exists():
        _quarantine(store_path, folder)
    with lance_errors(name, store_path):
        db.create_table(name, schema=schema, exist_ok=True)


def repair_table(store_path: Path, name: str, schema: pa.Schema, health: TableHealth) -> list[str]:
    """Bring one table back to a readable state; what was done, one sentence each."""
    actions: list[str] = []
    if health.problem is not None:
        while not health.opens:  # the newest manifest is unreadable: step back a version
            if not _table_dir(store_path, name).is_dir():
                break
            dropped = _drop_newest_manifest(store_path, name)
            if dropped is None:
                break
            actions.append(f"{name}: set aside the unreadable manifest of version {dropped}")
            health = inspect_table(store_path, name)
        if health.problem is not None and health.opens:
            table = _open(_connect(store_path), name, store_path)
            version = _roll_back(table)
            if version is not None:
                actions.append(f"{name}: rolled back to version {version}, the newest intact one")
                health = inspect_table(store_path, name)
        if health.problem is not None:
            _recreate(store_path, name, schema)
            actions.append(
                f"{name}: no intact version left: re-created empty (damaged data kept "
                f"in {DAMAGED_DIR}/)"
            )
            health = inspect_table(store_path, name)
    if health.bad_indexes:
        table = _open(_connect(store_path), name, store_path)
        for index, _reason in health.bad_indexes:
            try:
                table.drop_index(index)
            except PolyseekError as exc:
                logger.warning("could not drop index %s of %s: %s", index, name, exc.message)
                continue
            actions.append(f"{name}: dropped the damaged index {index} (rebuilt below)")
    return actions


def repair_tables(
    store_path: Path, manifest: Manifest, health: dict[str, TableHealth]
) -> list[str]:
    """Repair every unhealthy table of ``health``; what was done."""
    actions: list[str] = []
    for name, schema in table_schemas(manifest).items():
        h = health.get(name)
        if h is not None and not h.ok:
            actions.extend(repair_table(store_path, name, schema, h))
    return actions


def _kind(table: Any, name: str) -> str:
    return next((str(ix.index_type) for ix in table.list_indices() if ix.name == name), "")


def heal_text_index(store: LanceStore) -> bool:
    """Rebuild the full-text index if querying it fails (it is derived data); True if so.

    Cheap enough for every index run: one query for a word of the first item.
    """
    table = store.lance_table("items")
    try:
        if not any(str(ix.index_type) == "FTS" for ix in table.list_indices()):
            return False
        head = table.head(1)
    except PolyseekError:
        return False  # the table itself does not read: `polyseek repair`'s business
    bad = [(n, r) for n, r in _probe_indexes(table, head) if "FTS" in _kind(table, n)]
    if not bad:
        return False
    for name, reason in bad:
        logger.warning("the full-text index %s was damaged (%s): rebuilding it", name, reason)
        try:
            table.drop_index(name)
        except PolyseekError as exc:
            logger.warning("could not drop index %s: %s", name, exc.message)
    store.ensure_text_index()
    return True


# --------------------------------------------------------------------------- consistency
def consistency(store: LanceStore) -> list[Finding]:
    """What disagrees between the readable tables of ``store`` (see the module docstring)."""
    sources = store.sources()
    committed = store.committed()
    items = store.lance_table("items").to_arrow().select(["id", "source", "gen", "text", "preview"])
    ids = items.column("id").to_pylist()
    srcs = items.column("source").to_pylist()
    gens = items.column("gen").to_pylist()
    texts = items.column("text").to_pylist()
    previews = items.column("preview").to_pylist()
    visible = [committed.get(s) == g for s, g in zip(srcs, gens, strict=True)]
    findings: list[Finding] = []

    per_source = Counter(s for s, v in zip(srcs, visible, strict=True) if v)
    short = sorted(
        p for p, rec in sources.items() if rec.status == "ok" and per_source[p] != rec.n_items
    )
    if short:
        findings.append(
            Finding(
                "items", f"{len(short)} indexed files miss items (or have extra ones)", tuple(short)
            )
        )
    seen = Counter(i for i, v in zip(ids, visible, strict=True) if v)
    doubled = sorted({s for i, s, v in zip(ids, srcs, visible, strict=True) if v and seen[i] > 1})
    if doubled:
        findings.append(Finding("items", "items stored twice", tuple(doubled)))
    missing_previews = sorted(
        {
            s
            for s, p, v in zip(srcs, previews, visible, strict=True)
            if v and p and not (store.path / p).is_file()
        }
    )
    if missing_previews:
        findings.append(Finding("media", "preview images are missing", tuple(missing_previews)))

    owner = {i: s for i, s, v in zip(ids, srcs, visible, strict=True) if v}
    for enc in store.manifest.encoders:
        if enc.spec in store.manifest.backfilling:
            continue  # still being filled (`polyseek encoders backfill`), not damaged
        expected = _expected_vectors(enc.kind, ids, srcs, texts, previews, visible)
        data = store.lance_table(enc.key).to_arrow().select(["id", "source", "gen"])
        vids = data.column("id").to_pylist()
        vvis = [
            committed.get(s) == g
            for s, g in zip(
                data.column("source").to_pylist(), data.column("gen").to_pylist(), strict=True
            )
        ]
        have = {i for i, v in zip(vids, vvis, strict=True) if v}
        lacking = sorted({expected[i] for i in set(expected) - have})
        orphans = sorted({i for i in have if i not in owner})
        if lacking:
            findings.append(
                Finding(
                    enc.key,
                    f"{enc.spec}: vectors missing for items of {len(lacking)} files",
                    tuple(lacking),
                )
            )
        if orphans:
            findings.append(
                Finding(
                    enc.key,
                    f"{enc.spec}: {len(orphans)} vectors without an item",
                    tuple(sorted(committed_sources(data, committed, set(orphans)))),
                )
            )
    return findings


def committed_sources(data: pa.Table, committed: dict[str, str], ids: set[str]) -> Iterable[str]:
    """Sources of the visible rows of ``data`` whose id is in ``ids``."""
    for i, s, g in zip(
        data.column("id").to_pylist(),
        data.column("source").to_pylist(),
        data.column("gen").to_pylist(),
        strict=True,
    ):
        if i in ids and committed.get(s) == g:
            yield s


def _expected_vectors(
    kind: str,
    ids: list[str],
    srcs: list[str],
    texts: list[str],
    previews: list[str | None],
    visible: list[bool],
) -> dict[str, str]:
    """item id -> source of the visible items an encoder of ``kind`` embeds.

    Text encoders embed every item with text, image-text encoders every item with a
    picture (those have a preview); what audio-text encoders embed (the sound) is not
    stored, so nothing is expected of them here.
    """
    out: dict[str, str] = {}
    for i, s, x, p, v in zip(ids, srcs, texts, previews, visible, strict=True):
        if not v:
            continue
        if (kind == "text" and x and x.strip()) or (kind == "image-text" and p):
            out[i] = s
    return out


__all__ = [
    "DAMAGED_DIR",
    "MANIFEST_BACKUP",
    "Finding",
    "TableHealth",
    "consistency",
    "heal_text_index",
    "inspect_table",
    "inspect_tables",
    "read_manifest",
    "repair_table",
    "repair_tables",
    "table_schemas",
    "restore_manifest",
]
