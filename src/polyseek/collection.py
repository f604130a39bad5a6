"""A collection: a folder of sources, the index stored for it, and the encoders that built it.

:class:`Collection` is what the other parts share: the indexer writes into it (and
refreshes its derived data, the full-text index and the calibration statistics, after
each run), the search pipeline reads from it, the server and ``ask`` look items and
previews up in it. :class:`~polyseek.engine.Engine` is a thin facade over one.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyseek.encoders import DEFAULT_TEXT_ENCODER, load_encoder
from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    DamagedIndexError,
    EncoderMismatchError,
)
from polyseek.location import COLLECTION_ENV, STORE_DIRNAME, find_store, locate
from polyseek.store.base import Manifest, Store, StoredItem
from polyseek.store.lancedb import LanceStore, write_lock
from polyseek.store.uri import StoreLocation, is_uri

if TYPE_CHECKING:
    from polyseek.indexing import Indexer, ItemEmbedder, LoadExecutor
    from polyseek.ingest import IngestOptions

logger = logging.getLogger(__name__)


@dataclass
class CollectionStatus:
    root: str
    store: str
    encoders: list[dict[str, Any]]
    sources: int
    failed: list[tuple[str, str]]
    items: dict[str, int]
    disk_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "store": self.store,
            "encoders": self.encoders,
            "sources": self.sources,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "items": self.items,
            "disk_bytes": self.disk_bytes,
            "ann": self.extra.get("ann", {}),
        }


def _recorded_encoders(store_path: Path) -> list[str]:
    """The encoder specs an existing index was built with (from its manifest or backup)."""
    from polyseek.store.health import read_manifest

    try:
        return [e.spec for e in read_manifest(store_path).encoders]
    except DamagedIndexError as exc:
        raise DamagedIndexError(
            "manifest.json",
            f"{exc.message}: the encoders to rebuild with are unknown",
            hint="name them: `polyseek index DIR --rebuild --encoder minilm` (repeat --encoder "
            "for each; `polyseek models` lists the backends)",
        ) from exc


def _drop_index(store_path: Path, location: StoreLocation | None = None) -> None:
    """Delete an index's contents, holding its write lock (a running writer blocks it).

    The lock file itself stays: a writer that opened the old index before and takes the
    lock after sees that the manifest was replaced and stops (``LanceStore.writing``).
    """
    if location is not None and location.is_remote:
        with write_lock(location):
            location.delete_all()
        shutil.rmtree(location.local_dir, ignore_errors=True)
        return
    is_index = any(
        (store_path / n).exists() for n in (LanceStore.MANIFEST, LanceStore.MANIFEST_BACKUP)
    )
    if not (is_index or not any(store_path.iterdir())):
        raise ConfigError(f"refusing to delete {store_path}: it is not a polyseek index")
    with write_lock(store_path):
        for entry in store_path.iterdir():
            if entry.name == "lock":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


class Collection:
    """The sources under ``root``, their index ``store``, and the encoders it records."""

    def __init__(
        self, root: Path, store: Store, encoders: Mapping[str, Encoder] | None = None
    ) -> None:
        self.root = root
        self.store = store
        self._encoders: dict[str, Encoder] = dict(encoders or {})

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        collection: str | Path | None = None,
        *,
        store: str | Path | StoreLocation | None = None,
        encoders: Sequence[str] | None = None,
        create: bool = False,
        rebuild: bool = False,
        storage_options: Mapping[str, str] | None = None,
    ) -> Collection:
        """Open (or with ``create=True`` make) the index of a collection; see ``Engine.open``."""
        location: StoreLocation | None = None
        if isinstance(store, StoreLocation):
            location = store
        elif store is not None and (is_uri(store) or storage_options):
            location = StoreLocation.parse(store, storage_options)
        # An object store's index is found at its URI: locate() sees its working folder.
        where = location.local_dir if location is not None else store
        root, store_path = locate(
            collection, where if not isinstance(where, StoreLocation) else None
        )
        if location is None:
            location = StoreLocation.parse(store_path)
        loaded: list[Encoder] | None = None
        if rebuild and (location.is_remote or store_path.exists()):
            if location.is_remote:  # the recorded encoders are in the prefix's manifest
                store_path.mkdir(parents=True, exist_ok=True)
                location.download(LanceStore.MANIFEST, refresh=True)
            specs = list(encoders or _recorded_encoders(store_path))
            # Load the new encoders before dropping the old index, so a typo loses nothing.
            loaded = [load_encoder(s) for s in specs]
            encoders = specs
            _drop_index(store_path, location)
        if LanceStore.exists(location):
            st = LanceStore.open(location)
            if encoders and sorted(encoders) != sorted(e.spec for e in st.manifest.encoders):
                raise ConfigError(
                    f"the index at {location} was built with encoders "
                    f"{[e.spec for e in st.manifest.encoders]}, not {list(encoders)}",
                    hint="re-run with --rebuild to re-embed everything with the new encoders, "
                    "or give another --store",
                )
            return cls(Path(st.manifest.collection_root) if root is None else root, st)
        if not create:
            raise CollectionNotFoundError(
                f"no polyseek index at {location}",
                hint="index the folder first: `polyseek index DIR`",
            )
        if root is None:
            raise ConfigError("give the collection folder to create an index for")
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder")
        if loaded is None:
            loaded = [load_encoder(s) for s in (encoders or [DEFAULT_TEXT_ENCODER])]
        return cls.create(root, location, loaded)

    @classmethod
    def create(
        cls, root: Path, store_path: Path | StoreLocation, encoders: Sequence[Encoder]
    ) -> Collection:
        """A new, empty index at ``store_path`` for the sources under ``root``."""
        manifest = Manifest(tuple(e.info for e in encoders), collection_root=str(root))
        store = LanceStore.create(store_path, manifest)
        return cls(root, store, {e.info.spec: e for e in encoders})

    # ------------------------------------------------------------------ encoders
    @property
    def encoder_infos(self) -> tuple[EncoderInfo, ...]:
        return self.store.manifest.encoders

    def encoder(self, info: EncoderInfo) -> Encoder:
        """The loaded encoder for a recorded one; refuses one that changed since indexing."""
        enc = self._encoders.get(info.spec)
        if enc is None:
            enc = load_encoder(info.spec)
            got = enc.info
            for attr in ("dim", "metric", "revision"):
                if getattr(got, attr) != getattr(info, attr):
                    raise EncoderMismatchError(
                        f"encoder {info.spec!r} now loads with {attr}={getattr(got, attr)!r}, "
                        f"but the index was built with {attr}={getattr(info, attr)!r}",
                        hint="load the model the index was built with, or re-index with "
                        "`polyseek index DIR --rebuild` to re-embed with the new one",
                    )
            self._encoders[info.spec] = enc
        return enc

    def encoders(self) -> list[Encoder]:
        """Every encoder of the index, loaded (and checked against the manifest)."""
        return [self.encoder(info) for info in self.encoder_infos]

    # ------------------------------------------------------------------ items
    def items(self, ids: Sequence[str]) -> dict[str, StoredItem]:
        """Visible items by id."""
        return self.store.get_items(ids)

    def item(self, item_id: str) -> StoredItem | None:
        return self.store.get_items([item_id]).get(item_id)

    def preview_file(self, item: StoredItem) -> Path | None:
        """The stored preview image of ``item`` (thumbnail, page render), if it has one."""
        return self.store.preview_file(item)

    def resolve(self, path: str | Path, must_exist: bool = True) -> Path:
        """An absolute path inside the collection for ``path`` (relative to cwd or root)."""
        try:
            p = Path(path).expanduser()
            p = (p if p.is_absolute() else Path.cwd() / p).resolve()
            if not p.is_relative_to(self.root):
                alt = (self.root / Path(path)).resolve()
                if alt.is_relative_to(self.root) and (alt.exists() or not must_exist):
                    p = alt
                else:
                    raise ConfigError(f"{path} is not inside the collection {self.root}")
            if must_exist and not p.exists():
                raise ConfigError(f"{path}: no such file")
        except OSError as exc:  # a name over 255 bytes, a path too deep, a loop of links
            shown = str(path) if len(str(path)) <= 80 else str(path)[:77] + "..."
            raise ConfigError(f"{shown}: {exc.strerror or exc}") from None
        return p

    def _unresolved(self, path: str | Path) -> Path:
        """``path`` made absolute inside the collection, its last part not followed if a link."""
        p = Path(os.path.abspath(Path(path).expanduser()))
        if not p.is_relative_to(self.root):
            p = Path(os.path.abspath(self.root / Path(path)))
        if p == self.root:
            return p
        parent = self.resolve(p.parent, must_exist=False)
        return parent / p.name if p.name else parent

    # ------------------------------------------------------------------ writing
    def indexer(
        self,
        options: IngestOptions | None = None,
        *,
        batch_files: int = 256,
        embedder: ItemEmbedder | None = None,
        executor: LoadExecutor | None = None,
    ) -> Indexer:
        """An :class:`~polyseek.indexing.Indexer` writing into this collection."""
        from polyseek.indexing import Indexer

        return Indexer(self, options, batch_files=batch_files, embedder=embedder, executor=executor)

    def refresh(self, changed: bool = True) -> None:
        """Bring derived data up to date after writes: calibration statistics and probes
        (recomputed when items changed, or when missing) and the full-text index (rebuilt
        when it is damaged)."""
        from polyseek.search.calibration import calibration_path, update_calibration

        if changed or not calibration_path(self.store).is_file():
            update_calibration(self.store, self.encoders())
        if changed:
            from polyseek.labels import relabel

            relabel(self.store)  # new files get labels from `polyseek label train`
        self.store.ensure_text_index()
        if isinstance(self.store, LanceStore):
            from polyseek.store.health import heal_text_index

            heal_text_index(self.store)  # a damaged full-text index is rebuilt, not kept
            self.store.publish()  # calibration beside the tables of an object store

    def remove(self, path: str | Path, *, everything: bool = False) -> int:
        """Forget a source file, or every source under a folder; return how many.

        The collection's own folder empties the whole index, so it needs
        ``everything=True``: a stray "." must not wipe an index by accident.
        """
        # A link names itself, not its target: removing a link to a folder must not drop
        # the sources of the folder it points to.
        target = self._unresolved(path)
        if not target.is_relative_to(self.root):
            raise ConfigError(f"{path} is not inside the collection {self.root}")
        rel = target.relative_to(self.root).as_posix()
        if rel in (".", "") and not everything:
            raise ConfigError(
                f"{path} is the whole collection: removing it would empty the index",
                hint="pass everything=True (CLI: --all; API: all=true) if that is meant",
            )
        known = self.store.sources()
        doomed = [p for p in known if rel in (".", "") or p == rel or p.startswith(rel + "/")]
        if not doomed:
            raise ConfigError(f"{path}: nothing indexed at this path")
        with self.store.writing():
            return self.store.remove_sources(doomed)

    # ------------------------------------------------------------------ status
    def status(self) -> CollectionStatus:
        sources = self.store.sources()
        return CollectionStatus(
            root=str(self.root),
            store=str(getattr(self.store, "location", self.store.path)),
            encoders=[e.to_dict() for e in self.encoder_infos],
            sources=sum(1 for s in sources.values() if s.status == "ok"),
            failed=sorted((s.path, s.error) for s in sources.values() if s.status == "failed"),
            items=self.store.counts(),
            disk_bytes=self.store.disk_bytes(),
            extra={"ann": self.store.ann_report()} if isinstance(self.store, LanceStore) else {},
        )


__all__ = [
    "COLLECTION_ENV",
    "STORE_DIRNAME",
    "Collection",
    "CollectionStatus",
    "find_store",
    "locate",
]
