"""Adding, removing and switching encoders of a live index: the manifest steps.

Every change follows the store's order for crash safety: tables are made first, the
manifest is replaced atomically (the commit point), and what the new manifest no longer
names (a dropped encoder's table, an adapter's file, a backfill's list of empty items) is
deleted after; :func:`cleanup` deletes such leftovers of a process killed in between,
at the start of the next lifecycle step. So a kill at any point leaves either the index
before the step or the index after it.

The switch that ends an upgrade is one manifest write: the new encoder becomes an
ordinary one, the adapter and (unless ``keep_old``) the old encoder leave the manifest,
and queries move from "new query -> adapter -> old vectors" to the new vectors at once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from polyseek.encoders import load_encoder
from polyseek.encoders.base import EncoderInfo
from polyseek.errors import ConfigError, StoreError
from polyseek.lifecycle.backfill import (
    LIFECYCLE_DIR,
    BatchCallback,
    backfill_lock,
    check_backfillable,
    forget_state,
    pending_items,
    progress_of,
    run_backfill,
    writing_when_free,
)
from polyseek.store.base import AdapterRecord, Manifest
from polyseek.store.lancedb import LanceStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from polyseek.collection import Collection
    from polyseek.lifecycle.backfill import BackfillProgress

logger = logging.getLogger(__name__)


def lance_store(collection: Collection) -> LanceStore:
    store = collection.store
    if not isinstance(store, LanceStore):
        raise StoreError("encoder changes need the embedded LanceDB store")
    return store


def recorded(manifest: Manifest, spec: str) -> EncoderInfo:
    """The encoder the manifest records under ``spec`` (an error lists the others)."""
    for info in manifest.encoders:
        if info.spec == spec:
            return info
    raise ConfigError(
        f"the index has no encoder {spec!r}",
        hint=f"its encoders: {', '.join(e.spec for e in manifest.encoders)}",
    )


def cleanup(store: LanceStore) -> list[str]:
    """Delete what the manifest no longer names (hold the write lock); what was deleted."""
    keys = {e.key for e in store.manifest.encoders}
    done = []
    for table in sorted(store.vector_tables() - keys):
        store.drop_vector_table(table)
        done.append(f"table {table}")
    folder = store.path / LIFECYCLE_DIR
    if folder.is_dir():
        files = {a.file for a in store.manifest.adapters}
        for f in folder.iterdir():
            rel = f.relative_to(store.path).as_posix()
            stale_adapter = f.suffix == ".npz" and rel not in files
            stale_marks = f.name.endswith(".empty.json") and f.name.split(".")[0] not in keys
            if stale_adapter or stale_marks or f.suffix == ".tmp":
                f.unlink(missing_ok=True)
                done.append(rel)
    if done:
        logger.info("lifecycle cleanup of %s: removed %s", store.path, ", ".join(done))
    return done


def add_encoder(collection: Collection, spec: str) -> EncoderInfo:
    """Record a new encoder on the index (its backfill still to run); its info."""
    store = lance_store(collection)
    info = load_encoder(spec).info  # before anything changes: a typo loses nothing
    check_backfillable(info)
    with writing_when_free(store):
        cleanup(store)
        m = store.manifest
        if any(e.spec == info.spec for e in m.encoders):
            pending = info.spec in m.backfilling
            raise ConfigError(
                f"the index already has encoder {info.spec!r}"
                + (" (its backfill is not finished)" if pending else ""),
                hint="`polyseek encoders backfill` carries on with it"
                if pending
                else "`polyseek encoders remove SPEC` drops one",
            )
        store.set_manifest(
            replace(m, encoders=(*m.encoders, info), backfilling=(*m.backfilling, info.spec))
        )
    logger.info("added encoder %s to %s; backfill pending", info.spec, store.path)
    return info


def remove_encoder(collection: Collection, spec: str) -> None:
    """Drop an encoder and its vectors (an upgrade to it is cancelled)."""
    store = lance_store(collection)
    with writing_when_free(store):
        m = store.manifest
        info = recorded(m, spec)
        if any(a.old == spec for a in m.adapters):
            raise ConfigError(
                f"{spec} is being upgraded: queries reach its vectors through an adapter",
                hint="remove the new encoder to cancel the upgrade, or wait for the switch",
            )
        if len(m.encoders) == 1:
            raise ConfigError(
                f"{spec} is the index's only encoder",
                hint="add another first (`polyseek encoders add SPEC`), or re-index with "
                "`polyseek index DIR --rebuild --encoder SPEC`",
            )
        store.set_manifest(
            replace(
                m,
                encoders=tuple(e for e in m.encoders if e.spec != spec),
                backfilling=tuple(s for s in m.backfilling if s != spec),
                adapters=tuple(a for a in m.adapters if a.new != spec),
            )
        )
        forget_state(store, info.key)
        cleanup(store)
        collection.refresh(changed=True)
    logger.info("removed encoder %s from %s", spec, store.path)


def finish(collection: Collection, info: EncoderInfo) -> bool:
    """After a complete backfill: mark the encoder ready, switching an upgrade to it."""
    store = lance_store(collection)
    with writing_when_free(store):
        m = store.manifest
        if info.spec not in m.backfilling:
            return True
        todo, _ = pending_items(store, info.key)
        if todo:  # items indexed with a manifest that did not list it yet
            return False
        adapter = next((a for a in m.adapters if a.new == info.spec), None)
        encoders = m.encoders
        if adapter is not None and not adapter.keep_old:
            encoders = tuple(e for e in encoders if e.spec != adapter.old)
        store.set_manifest(
            replace(
                m,
                encoders=encoders,
                backfilling=tuple(s for s in m.backfilling if s != info.spec),
                adapters=tuple(a for a in m.adapters if a is not adapter),
            )
        )  # the switch: one atomic write
        forget_state(store, info.key)
        cleanup(store)
        collection.refresh(changed=True)
    if adapter is not None:
        logger.info("switched queries from %s to %s's own vectors", adapter.old, info.spec)
    return True


def backfill(
    collection: Collection,
    spec: str | None = None,
    *,
    on_batch: Callable[[str], BatchCallback] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_items: int | None = None,
) -> list[BackfillProgress]:
    """Run (or resume) the backfill of one pending encoder, or of all; finish those done."""
    store = lance_store(collection)
    store.reload_manifest()
    specs = [spec] if spec else list(store.manifest.backfilling)
    out = []
    with backfill_lock(store):
        for name in specs:
            info = recorded(store.manifest, name)
            if name not in store.manifest.backfilling:
                out.append(progress_of(store, info))
                continue
            kwargs: dict[str, Any] = {"should_stop": should_stop}
            if batch_items:
                kwargs["batch_items"] = batch_items
            for _ in range(3):  # items indexed meanwhile by an older process: once more
                got = run_backfill(
                    collection, info, on_batch=on_batch(name) if on_batch else None, **kwargs
                )
                if not got.complete or finish(collection, info):
                    break
            out.append(got)
    return out


def encoders_status(collection: Collection) -> list[dict[str, Any]]:
    """Each encoder: spec, kind, dim, state (``ready`` / ``backfilling`` / ``adapted``) and,
    while backfilling, how far; an upgrade's adapter under the new encoder."""
    store = lance_store(collection)
    store.reload_manifest()
    m = store.manifest
    rows = []
    for info in m.encoders:
        row: dict[str, Any] = info.to_dict()
        row["state"] = "backfilling" if info.spec in m.backfilling else "ready"
        if info.spec in m.backfilling:
            row["backfill"] = progress_of(store, info).to_dict()
        adapter = next((a for a in m.adapters if a.new == info.spec), None)
        if adapter is not None:
            row["adapter"] = adapter.to_dict()
        if any(a.old == info.spec for a in m.adapters):
            row["state"] = "upgrading"
        rows.append(row)
    return rows


def adapter_for(manifest: Manifest, old_spec: str) -> AdapterRecord | None:
    return next((a for a in manifest.adapters if a.old == old_spec), None)


__all__ = [
    "adapter_for",
    "add_encoder",
    "backfill",
    "cleanup",
    "encoders_status",
    "finish",
    "lance_store",
    "recorded",
    "remove_encoder",
]
