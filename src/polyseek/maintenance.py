"""``polyseek check`` and ``polyseek repair``: verify a damaged index and bring it back.

The collection's files are the source of truth and the index is derived from them, so an
index can always be recovered. :func:`check_index` reports without changing anything:
the manifest, every table read completely at its latest version, every index queried
once, the derived statistics, and whether the tables agree (items per indexed file,
vectors per item, nothing without its source). :func:`repair_index` then does the
cheapest thing that works, in this order:

1. the manifest is restored from its backup copy (``manifest.backup.json``);
2. a damaged table is rolled back to its newest intact version, or re-created empty
   (:mod:`polyseek.store.health`); a damaged index is dropped;
3. rows left invisible are removed, the files whose rows are missing or wrong are
   forgotten, and an ordinary index run re-indexes them from the collection (it also
   picks up whatever else changed on disk); derived data (full-text index, ANN and id
   indexes, calibration statistics) is rebuilt.

Damaged files are moved to ``<store>/damaged/``, never deleted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyseek.collection import Collection, locate
from polyseek.encoders import DEFAULT_TEXT_ENCODER, load_encoder
from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    DamagedIndexError,
    PolyseekError,
)
from polyseek.indexing import IndexReport, Progress
from polyseek.ingest import IngestOptions
from polyseek.search.calibration import calibration_path, load_calibration, probes_path
from polyseek.store.base import Manifest
from polyseek.store.health import (
    DAMAGED_DIR,
    Finding,
    TableHealth,
    consistency,
    inspect_tables,
    read_manifest,
    repair_tables,
    restore_manifest,
)
from polyseek.store.lancedb import LanceStore, write_lock
from polyseek.store.uri import is_uri

logger = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """What :func:`check_index` found; ``ok`` when nothing is damaged or inconsistent."""

    store: str
    tables: dict[str, TableHealth] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "ok": self.ok,
            "tables": {n: t.to_dict() for n, t in self.tables.items()},
            "findings": [f.to_dict() for f in self.findings],
            "counts": self.counts,
        }


@dataclass
class RepairReport:
    """What :func:`repair_index` did, the index run it ended with, and the check after."""

    store: str
    actions: list[str] = field(default_factory=list)
    reindexed: list[str] = field(default_factory=list)
    index: IndexReport | None = None
    after: CheckReport | None = None

    @property
    def ok(self) -> bool:
        return self.after is not None and self.after.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "ok": self.ok,
            "actions": self.actions,
            "reindexed": self.reindexed,
            "index": self.index.to_dict() if self.index else None,
            "after": self.after.to_dict() if self.after else None,
        }


# --------------------------------------------------------------------------- check
def _store_path(
    collection: str | Path | None, store: str | Path | None
) -> tuple[Path | None, Path]:
    if is_uri(store):  # the working folder of an object store is not the index
        raise ConfigError(
            f"check and repair work on local stores, not {store}",
            hint="copy the prefix to a folder (e.g. `aws s3 sync`) and check that",
        )
    root, store_path = locate(collection, store)
    if (
        not (store_path / LanceStore.MANIFEST).exists()
        and not (store_path / LanceStore.MANIFEST_BACKUP).exists()
    ):
        raise CollectionNotFoundError(
            f"no polyseek index at {store_path}",
            hint="index the folder first: `polyseek index DIR`",
        )
    return root, store_path


def _manifest_problem(store_path: Path) -> str | None:
    """Why ``manifest.json`` itself does not read (None: it does)."""
    path = store_path / LanceStore.MANIFEST
    try:
        Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{path}: unreadable ({exc})"
    return None


def _manifest_findings(store_path: Path) -> tuple[Manifest | None, list[Finding]]:
    problem = _manifest_problem(store_path)
    findings = [Finding("manifest.json", problem, derived=True)] if problem else []
    try:
        return read_manifest(store_path), findings
    except DamagedIndexError as exc:
        return None, [Finding("manifest.json", exc.message)]


def _derived_findings(store: LanceStore) -> list[Finding]:
    findings = []
    try:
        load_calibration(store)
    except PolyseekError as exc:
        findings.append(Finding("calibration.json", exc.message, derived=True))
    path = probes_path(store)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                for key in data.files:
                    data[key]  # noqa: B018 - reads (and so verifies) every array
        except (OSError, ValueError, KeyError, EOFError) as exc:
            findings.append(Finding(path.name, f"unreadable: {exc}", derived=True))
    return findings


def check_index(
    collection: str | Path | None = None, *, store: str | Path | None = None
) -> CheckReport:
    """Verify the index of a collection without changing it (see the module docstring)."""
    _, store_path = _store_path(collection, store)
    report = CheckReport(str(store_path))
    manifest, report.findings = _manifest_findings(store_path)
    if manifest is None:
        return report
    report.tables = inspect_tables(store_path, manifest)
    for name, health in report.tables.items():
        if health.problem is not None:
            report.findings.append(Finding(f"table {name}", health.problem))
        for index, reason in health.bad_indexes:
            report.findings.append(Finding(f"index {index} of {name}", reason, derived=True))
    if any(h.problem is not None for h in report.tables.values()):
        return report  # the tables cannot be compared while one does not read
    try:
        st = LanceStore(store_path, manifest)
        report.findings.extend(consistency(st))
        report.findings.extend(_derived_findings(st))
        sources = st.sources()
        rows = st.table_rows()
        report.counts = {
            "sources": sum(1 for r in sources.values() if r.status == "ok"),
            "failed": sum(1 for r in sources.values() if r.status == "failed"),
            "items": st.counts(),
            "vectors": {e.spec: len(st.vectors(e.key)) for e in manifest.encoders},
            "rows": rows,
        }
    except DamagedIndexError as exc:
        report.findings.append(Finding(exc.part, exc.message))
    return report


# --------------------------------------------------------------------------- repair
def _mend_manifest(store_path: Path, root: Path | None, report: RepairReport) -> Manifest:
    """The manifest, restored from its backup or (for the default encoder) rebuilt."""
    if _manifest_problem(store_path) is None:
        return read_manifest(store_path)
    try:
        manifest = read_manifest(store_path)
        report.actions.append("manifest.json: restored from manifest.backup.json")
    except DamagedIndexError:
        manifest = _rebuilt_manifest(store_path, root)
        report.actions.append("manifest.json: rebuilt from the tables (default encoder)")
    restore_manifest(store_path, manifest)
    return manifest


def _rebuilt_manifest(store_path: Path, root: Path | None) -> Manifest:
    """A manifest for an index whose only vector table is the default encoder's."""
    tables = {p.name[: -len(".lance")] for p in (store_path / "db").glob("v_*.lance")}
    encoder = load_encoder(DEFAULT_TEXT_ENCODER)
    if tables != {encoder.info.key}:
        raise DamagedIndexError(
            "manifest.json",
            f"the manifest of the index at {store_path} and its backup are unreadable, and "
            "the index was not built with the default encoder alone",
            hint="re-create the index with its encoders: "
            "`polyseek index DIR --rebuild --encoder SPEC [--encoder SPEC ...]`",
        )
    collection_root = root if root is not None else store_path.parent
    return Manifest((encoder.info,), collection_root=str(collection_root))


def _drop_bad_derived_files(store: LanceStore, report: RepairReport) -> None:
    """Damaged statistics are deleted; the index run's refresh recomputes them."""
    for finding in _derived_findings(store):
        for path in (calibration_path(store), probes_path(store)):
            path.unlink(missing_ok=True)
        report.actions.append(f"{finding.part}: unreadable, recomputed")
        break


def repair_index(
    collection: str | Path | None = None,
    *,
    store: str | Path | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> RepairReport:
    """Bring a damaged index back (see the module docstring); ``ok`` if the check passes after."""
    root, store_path = _store_path(collection, store)
    report = RepairReport(str(store_path))
    with write_lock(store_path):
        manifest = _mend_manifest(store_path, root, report)
        health = inspect_tables(store_path, manifest)
        report.actions.extend(repair_tables(store_path, manifest, health))
        after = inspect_tables(store_path, manifest)
        still = [h for h in after.values() if h.problem is not None]
        if still:
            raise DamagedIndexError(
                f"table {still[0].name}",
                f"could not repair table {still[0].name}: {still[0].problem}",
                hint="re-create the index: `polyseek index DIR --rebuild` "
                f"(the damaged files are kept in {store_path / DAMAGED_DIR})",
            )
    col = Collection.open(root, store=store_path)
    st = col.store
    if not isinstance(st, LanceStore):  # pragma: no cover - the only store there is
        raise DamagedIndexError("store", f"cannot repair a {type(st).__name__}")
    with st.writing():
        removed = st.recover()
        if removed:
            report.actions.append(f"removed {removed} rows that no committed file owns")
        affected = sorted({s for f in consistency(st) for s in f.sources})
        if affected:
            st.remove_sources(affected)
            report.actions.append(f"forgot {len(affected)} files whose rows were missing or wrong")
        _drop_bad_derived_files(st, report)
    report.reindexed = affected
    if not col.root.is_dir():
        raise CollectionNotFoundError(
            f"the collection folder {col.root} is gone: its files cannot be re-indexed",
            hint="give the folder with -c DIR (or --store for the index)",
        )
    report.index = col.indexer(options).run(progress=progress)
    with st.writing():
        st.maintain_indexes()
        col.refresh(changed=False)
    report.after = check_index(col.root, store=store_path)
    logger.info("repaired %s: %s", store_path, "; ".join(report.actions) or "nothing to do")
    return report


__all__ = ["CheckReport", "RepairReport", "check_index", "repair_index"]
