"""The facade: open a collection, index it, search it, inspect it, remove from it.

>>> engine = Engine.open("~/archive", create=True)   # doctest: +SKIP
>>> engine.index()                                    # doctest: +SKIP
>>> engine.search("exploded view of the pump housing").hits[0].source  # doctest: +SKIP

Each verb hands off to the part that does it: :class:`~polyseek.collection.Collection`
(the index, its encoders and items), :class:`~polyseek.indexing.Indexer` and
:class:`~polyseek.search.pipeline.SearchPipeline`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.collection import (
    COLLECTION_ENV,
    STORE_DIRNAME,
    Collection,
    CollectionStatus,
    find_store,
)
from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.lifecycle.routing import QueryEncoders
from polyseek.search.base import Query, Ranking
from polyseek.search.embedder import QueryEmbedder
from polyseek.search.pipeline import SearchPipeline
from polyseek.store.base import Store, StoredItem
from polyseek.store.uri import StoreLocation
from polyseek.types import Modality, SearchResult, check_modality

if TYPE_CHECKING:  # (indexing and ingest load the readers of every format: not for search)
    from PIL.Image import Image

    from polyseek.indexing import IndexReport, LoadExecutor, Progress
    from polyseek.ingest import IngestOptions
    from polyseek.labels import LabelModel
    from polyseek.lifecycle import BackfillProgress, UpgradeReport
    from polyseek.lifecycle.backfill import BatchCallback
    from polyseek.lifecycle.jobs import BackfillThread
    from polyseek.rag.base import Answer

logger = logging.getLogger(__name__)


class Engine:
    """A collection and the verbs over it. ``Engine(collection)`` or :meth:`Engine.open`."""

    def __init__(self, collection: Collection, embedder: QueryEmbedder | None = None) -> None:
        self.collection = collection
        # Queries go through the encoders' current routes (an upgrade's adapter, say).
        self.embedder = embedder or QueryEmbedder(QueryEncoders(collection))
        self.pipeline = SearchPipeline(collection.store, self.embedder)

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
    ) -> Engine:
        """Open (or with ``create=True`` make) the index of a collection.

        ``collection`` is the folder of sources; the index lives in
        ``<collection>/.polyseek`` unless ``store`` names another place. With neither,
        ``$POLYSEEK_COLLECTION`` or the nearest ``.polyseek`` above the working
        directory is used. ``encoders`` are encoder specs (default: ``minilm``);
        ``rebuild=True`` replaces an index built with other encoders. ``store`` may be an
        object-store URI (``s3://bucket/prefix``, ``gs://``, ``az://``) with
        ``storage_options`` for LanceDB (``endpoint``, ``region``, ``allow_http``).
        """
        return cls(
            Collection.open(
                collection,
                store=store,
                encoders=encoders,
                create=create,
                rebuild=rebuild,
                storage_options=storage_options,
            )
        )

    @property
    def root(self) -> Path:
        return self.collection.root

    @property
    def store(self) -> Store:
        return self.collection.store

    @property
    def encoder_infos(self) -> tuple[EncoderInfo, ...]:
        return self.collection.encoder_infos

    def encoder(self, info: EncoderInfo) -> Encoder:
        return self.collection.encoder(info)

    def items(self, ids: Sequence[str]) -> dict[str, StoredItem]:
        """Visible items by id."""
        return self.collection.items(ids)

    def preview_file(self, item: StoredItem) -> Path | None:
        """The stored preview image of ``item`` (thumbnail, page render), if any."""
        return self.collection.preview_file(item)

    # ------------------------------------------------------------------ indexing
    def index(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        progress: Progress | None = None,
        options: IngestOptions | None = None,
        batch_files: int = 256,
        executor: LoadExecutor | None = None,
    ) -> IndexReport:
        """Bring the index up to date: add new files, re-index changed, drop deleted ones.

        With ``paths``, only those files are (re)considered and nothing is removed.
        ``executor`` reads and embeds elsewhere, e.g.
        :class:`polyseek.indexing_ray.RayExecutor` on a Ray cluster; the commits stay here.
        """
        files = None if paths is None else [self.collection.resolve(p) for p in paths]
        indexer = self.collection.indexer(options, batch_files=batch_files, executor=executor)
        return indexer.run(files, progress)

    def remove(self, path: str | Path, *, everything: bool = False) -> int:
        """Forget a source file, or every source under a folder; return how many."""
        return self.collection.remove(path, everything=everything)

    # ------------------------------------------------------------------ search
    def search(
        self,
        text: str | None = None,
        *,
        image: Image | Path | str | None = None,
        top: int = 10,
        modality: str | Sequence[str] | None = None,
        image_weight: float = 0.5,
        ranking: Ranking | None = None,
        **options: Any,
    ) -> SearchResult:
        """Search by text, by image, or by both (a composed query).

        ``options`` are :class:`~polyseek.search.base.Ranking` fields (``lexical``,
        ``dense``, ``calibrate``, ``rerank``, ``cutoff``, ``first_pass``, ``exact`` ...),
        applied on top of ``ranking`` (default: the default ranking).
        """
        mods: tuple[Modality, ...]
        if modality is None:
            mods = ()
        elif isinstance(modality, str):
            mods = (check_modality(modality),)
        else:
            mods = tuple(check_modality(m) for m in modality)
        query = Query(
            text=text,
            image=image,
            top=top,
            modalities=mods,
            image_weight=image_weight,
            ranking=Ranking.from_options(options, ranking),
        )
        return self.pipeline.search(query)

    def search_batch(self, queries: Sequence[Query]) -> list[SearchResult]:
        """Answer several queries; text-only queries are embedded in one batch per encoder."""
        return self.pipeline.search_batch(queries)

    def rank(self, q: Query, vectors: dict[EncoderInfo, np.ndarray]) -> SearchResult:
        """Rank items for query vectors already computed per encoder (no encoding here)."""
        return self.pipeline.rank(q, vectors)

    # ------------------------------------------------------------------ encoders
    def add_encoder(
        self, spec: str, *, backfill: bool = True, on_batch: BatchCallback | None = None
    ) -> EncoderInfo:
        """Add an encoder to the live index and (``backfill=True``) embed every item with
        it now; with ``backfill=False`` run :meth:`backfill` or
        :meth:`backfill_in_background` later. Search uses it at once for what it has."""
        from polyseek.lifecycle import add_encoder

        info = add_encoder(self.collection, spec)
        if backfill:
            self.backfill(info.spec, on_batch=on_batch)
        return info

    def backfill(
        self, spec: str | None = None, *, on_batch: BatchCallback | None = None
    ) -> list[BackfillProgress]:
        """Run or resume the backfill of an added encoder (default: of every pending one);
        a complete upgrade switches to the new encoder's own vectors."""
        from polyseek.lifecycle import backfill

        return backfill(self.collection, spec, on_batch=(lambda _s: on_batch) if on_batch else None)

    def backfill_in_background(self, spec: str | None = None) -> BackfillThread:
        """:meth:`backfill` in a thread; searches go on meanwhile."""
        from polyseek.lifecycle.jobs import BackfillThread

        return BackfillThread(self.collection, spec).start()

    def upgrade_encoder(
        self, old: str, new: str, *, backfill: bool = True, **options: Any
    ) -> UpgradeReport:
        """Upgrade ``old`` to ``new`` without re-embedding first: queries use ``new``
        through a fitted adapter at once (refused, with nothing changed, when the
        adapter's held-out retention is below ``min_retention``); then ``new``'s backfill
        (here, with ``backfill=True``) and the switch. Options: ``sample``,
        ``min_retention``, ``keep_old``, ``seed``."""
        from polyseek.lifecycle import upgrade_encoder

        report = upgrade_encoder(self.collection, old, new, **options)
        if backfill:
            self.backfill(new)
        return report

    def remove_encoder(self, spec: str) -> None:
        """Drop an encoder and its vectors from the index."""
        from polyseek.lifecycle import remove_encoder

        remove_encoder(self.collection, spec)

    # ------------------------------------------------------------------ status
    def status(self) -> CollectionStatus:
        """What is indexed; each encoder with its state (ready, or how far its backfill
        is, an upgrade's adapter: :func:`polyseek.lifecycle.encoders_status`)."""
        from polyseek.lifecycle import encoders_status
        from polyseek.store.lancedb import LanceStore

        st = self.collection.status()
        if isinstance(self.store, LanceStore):
            st.encoders = encoders_status(self.collection)
        return st

    # ------------------------------------------------------------------ labels
    def train_labels(self, labels: str | Path, *, method: str = "auto") -> LabelModel:
        """Fit a few-shot labeller on the examples in ``labels`` (a CSV of ``path or item
        id,label``, or a folder of class folders) and label every item; see
        :mod:`polyseek.labels`. New files are labelled when indexed; filter with
        ``where="label = 'x' AND label_prob > 0.8"``."""
        from polyseek.labels import train

        with self.store.writing():
            return train(self.collection, Path(labels).expanduser(), method)

    def label_model(self) -> LabelModel | None:
        """The saved labeller (classes, method, cross-validated accuracy, counts), if any."""
        from polyseek.labels import load_model

        return load_model(self.store)

    def remove_labels(self) -> bool:
        """Forget the labeller and every item's label; whether there was one."""
        from polyseek.labels import remove

        with self.store.writing():
            return remove(self.store)

    # ------------------------------------------------------------------ answers
    def ask(self, question: str, **kwargs: Any) -> Answer:
        """Answer from the collection with citations; see :func:`polyseek.rag.ask`."""
        from polyseek.rag import ask

        return ask(self, question, **kwargs)


__all__ = ["COLLECTION_ENV", "STORE_DIRNAME", "CollectionStatus", "Engine", "find_store"]
