"""The facade: open a collection, index it, search it, inspect it, remove from it.

>>> engine = Engine.open("~/archive", create=True)   # doctest: +SKIP
>>> engine.index()                                    # doctest: +SKIP
>>> engine.search("exploded view of the pump housing").hits[0].source  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.encoders import DEFAULT_TEXT_ENCODER, load_encoder
from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize
from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    EncoderMismatchError,
    QueryError,
)
from polyseek.indexing import Indexer, IndexReport, Progress
from polyseek.ingest import IngestOptions
from polyseek.search.base import Fuser, Query
from polyseek.search.fusion import ReciprocalRankFusion
from polyseek.search.moments import MERGE_SLACK, embed_clip, is_video_path, merge_adjacent
from polyseek.search.ranking import (
    after_index,
    candidate_lists,
    cut,
    fuse,
    fused_depth,
    list_depth,
)
from polyseek.search.ranking import rerank as rerank_fused
from polyseek.search.snippets import snippet
from polyseek.store.base import Manifest
from polyseek.store.lancedb import LanceStore
from polyseek.types import Hit, Modality, SearchResult, check_modality

if TYPE_CHECKING:
    from PIL.Image import Image

    from polyseek.rag.base import Answer

logger = logging.getLogger(__name__)

STORE_DIRNAME = ".polyseek"
COLLECTION_ENV = "POLYSEEK_COLLECTION"


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
        }


def find_store(start: Path) -> Path | None:
    """The nearest ``.polyseek`` index in ``start`` or its parents."""
    for folder in [start, *start.parents]:
        if LanceStore.exists(folder / STORE_DIRNAME):
            return folder / STORE_DIRNAME
    return None


class Engine:
    """A collection: its root folder, its index and the encoders that built it."""

    def __init__(self, root: Path, store: LanceStore, fuser: Fuser | None = None) -> None:
        self.root = root
        self.store = store
        self.fuser: Fuser = fuser or ReciprocalRankFusion()
        self._encoders: dict[str, Encoder] = {}

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        collection: str | Path | None = None,
        *,
        store: str | Path | None = None,
        encoders: Sequence[str] | None = None,
        create: bool = False,
        rebuild: bool = False,
    ) -> Engine:
        """Open (or with ``create=True`` make) the index of a collection.

        ``collection`` is the folder of sources; the index lives in
        ``<collection>/.polyseek`` unless ``store`` names another place. With neither,
        ``$POLYSEEK_COLLECTION`` or the nearest ``.polyseek`` above the working
        directory is used. ``encoders`` are encoder specs (default: ``minilm``);
        ``rebuild=True`` replaces an index built with other encoders.
        """
        root, store_path = cls._locate(collection, store)
        loaded: list[Encoder] | None = None
        if rebuild and store_path.exists():
            if not (LanceStore.exists(store_path) or not any(store_path.iterdir())):
                raise ConfigError(f"refusing to delete {store_path}: it is not a polyseek index")
            specs = encoders or [e.spec for e in LanceStore.open(store_path).manifest.encoders]
            # Load the new encoders before dropping the old index, so a typo loses nothing.
            loaded = [load_encoder(s) for s in specs]
            encoders = specs
            shutil.rmtree(store_path)
        if LanceStore.exists(store_path):
            st = LanceStore.open(store_path)
            if encoders and sorted(encoders) != sorted(e.spec for e in st.manifest.encoders):
                raise ConfigError(
                    f"the index at {store_path} was built with encoders "
                    f"{[e.spec for e in st.manifest.encoders]}, not {list(encoders)}",
                    hint="re-run with --rebuild to re-embed everything with the new encoders, "
                    "or give another --store",
                )
            return cls(Path(st.manifest.collection_root) if root is None else root, st)
        if not create:
            raise CollectionNotFoundError(
                f"no polyseek index at {store_path}",
                hint="index the folder first: `polyseek index DIR`",
            )
        if root is None:
            raise ConfigError("give the collection folder to create an index for")
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder")
        if loaded is None:
            loaded = [load_encoder(s) for s in (encoders or [DEFAULT_TEXT_ENCODER])]
        manifest = Manifest(tuple(e.info for e in loaded), collection_root=str(root))
        engine = cls(root, LanceStore.create(store_path, manifest))
        engine._encoders = {e.info.spec: e for e in loaded}
        return engine

    @staticmethod
    def _locate(
        collection: str | Path | None, store: str | Path | None
    ) -> tuple[Path | None, Path]:
        root = Path(collection).expanduser().resolve() if collection is not None else None
        if store is not None:
            return root, Path(store).expanduser().resolve()
        if root is not None:
            return root, root / STORE_DIRNAME
        env = os.environ.get(COLLECTION_ENV)
        if env:
            env_root = Path(env).expanduser().resolve()
            return env_root, env_root / STORE_DIRNAME
        found = find_store(Path.cwd())
        if found is None:
            raise CollectionNotFoundError(
                "no collection given and no .polyseek index found here or above",
                hint=f"pass the collection folder (-c DIR) or set ${COLLECTION_ENV}",
            )
        return found.parent, found

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

    # ------------------------------------------------------------------ indexing
    def index(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        progress: Progress | None = None,
        options: IngestOptions | None = None,
        batch_files: int = 256,
    ) -> IndexReport:
        """Bring the index up to date: add new files, re-index changed, drop deleted ones.

        With ``paths``, only those files are (re)considered and nothing is removed.
        """
        encoders = [self.encoder(info) for info in self.encoder_infos]
        files = None
        if paths is not None:
            files = [self._resolve_in_collection(p) for p in paths]
        indexer = Indexer(self.root, self.store, encoders, options, batch_files=batch_files)
        report = indexer.run(files, progress)
        # Full-text index and calibration statistics follow the items (search/ranking.py).
        changed = report.added + report.updated + report.removed > 0
        after_index(self.store, encoders, changed=changed)
        return report

    def remove(self, path: str | Path, *, everything: bool = False) -> int:
        """Forget a source file, or every source under a folder; return how many.

        The collection's own folder empties the whole index, so it needs
        ``everything=True``: a stray "." must not wipe an index by accident.
        """
        target = self._resolve_in_collection(path, must_exist=False)
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

    def _resolve_in_collection(self, path: str | Path, must_exist: bool = True) -> Path:
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
        return p

    # ------------------------------------------------------------------ search
    def search(
        self,
        text: str | None = None,
        *,
        image: Image | Path | str | None = None,
        top: int = 10,
        modality: str | Sequence[str] | None = None,
        image_weight: float = 0.5,
        **options: Any,
    ) -> SearchResult:
        """Search by text, by image, or by both (a composed query).

        ``options`` are further :class:`~polyseek.search.base.Query` fields: ``lexical``,
        ``dense``, ``calibrate``, ``rerank``, ``rerank_depth``, ``cutoff``, ``exact``.
        """
        mods: tuple[Modality, ...]
        if modality is None:
            mods = ()
        elif isinstance(modality, str):
            mods = (check_modality(modality),)
        else:
            mods = tuple(check_modality(m) for m in modality)
        query = Query(
            text=text, image=image, top=top, modalities=mods, image_weight=image_weight, **options
        )
        return self.search_batch([query])[0]

    def search_batch(self, queries: Sequence[Query]) -> list[SearchResult]:
        """Answer several queries; text-only queries are embedded in one batch per encoder."""
        plans = [(q, self._plan(q)) for q in queries]
        texts: dict[EncoderInfo, list[str]] = {}
        for q, infos in plans:
            if q.image is None:
                for info in infos:
                    texts.setdefault(info, []).append(q.text or "")
        embedded = {
            info: iter(self.encoder(info).embed_queries(batch)) for info, batch in texts.items()
        }
        results = []
        for q, infos in plans:
            vectors = {
                info: next(embedded[info])
                if q.image is None
                else self._query_vector(self.encoder(info), q)
                for info in infos
            }
            results.append(self.rank(q, vectors))
        return results

    def _plan(self, q: Query) -> list[EncoderInfo]:
        """Check a query and return the encoders that embed it."""
        if q.text is None and q.image is None:
            raise QueryError("a query needs text, an image, or both")
        if q.text is not None and not q.text.strip() and q.image is None:
            raise QueryError("the query text is empty")
        if q.top < 1:
            raise QueryError(f"top must be at least 1, got {q.top}")
        if not q.dense and not q.lexical:
            raise QueryError("a query needs dense or lexical search (or both)")
        if not q.dense and not (q.text and q.text.strip()):
            raise QueryError("lexical-only search needs query text")
        return self._applicable(q) if q.dense else []

    def rank(self, q: Query, vectors: dict[EncoderInfo, np.ndarray]) -> SearchResult:
        """Rank items for query vectors already computed per encoder (no encoding here)."""
        # Fusion needs candidates beyond the top of each list; a single list does not.
        # MERGE_SLACK spare candidates refill the top when adjacent moments merge below.
        depth = list_depth(q, len(vectors) + int(q.lexical and bool(q.text)))
        depth = max(depth, q.top + MERGE_SLACK)
        lists = candidate_lists(self.store, q, vectors, depth)
        fused = fuse(q, lists, self.fuser, fused_depth(q) + MERGE_SLACK)
        items = self.store.get_items([f.item_id for f in fused])
        ranked = rerank_fused(q, fused, items, self.store.path)
        fused = cut(q, ranked)
        timed = any((it := items.get(f.item_id)) and it.locator.start_s is not None for f in fused)
        spare = ranked[q.top : q.top + MERGE_SLACK] if timed and len(fused) == q.top else []
        hits: list[Hit] = []
        for f in [*fused, *spare]:
            item = items.get(f.item_id)
            if item is None:  # removed between the vector read and now
                continue
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    score=f.score,
                    item_id=item.id,
                    modality=item.modality,
                    source=item.source,
                    locator=item.locator,
                    snippet=snippet(item.text, q.text),
                    signals=f.signals,
                    metadata=item.metadata,
                    preview=str(self.store.path / item.preview) if item.preview else None,
                )
            )
        hits = merge_adjacent(hits)[: len(fused)]  # neighbouring moments -> one span
        return SearchResult(query=q.describe(), hits=hits)

    def _applicable(self, q: Query) -> list[EncoderInfo]:
        infos = [i for i in self.encoder_infos if not q.encoders or i.spec in q.encoders]
        if q.image is not None:
            infos = [i for i in infos if i.kind == "image-text"]
            if not infos:
                raise QueryError(
                    "image queries need an image-text encoder, and this index has none "
                    f"(encoders: {[i.spec for i in self.encoder_infos]})",
                    hint="re-index with one, e.g. `polyseek index DIR --rebuild "
                    "--encoder minilm --encoder clip:openai/clip-vit-base-patch32`",
                )
        return infos

    def _query_vector(self, enc: Encoder, q: Query) -> np.ndarray:
        if q.image is None:
            return enc.embed_queries([q.text or ""])[0]
        if is_video_path(q.image):  # a clip as the query: its keyframes, pooled
            img_vec = embed_clip(enc, q.image)  # type: ignore[arg-type]
        else:
            img_vec = enc.embed_images([_open_query_image(q.image)])[0]
        if not q.text:
            return img_vec
        txt_vec = enc.embed_queries([q.text])[0]
        w = q.image_weight
        return l2_normalize((w * img_vec + (1 - w) * txt_vec)[None, :])[0]

    # ------------------------------------------------------------------ status
    def status(self) -> CollectionStatus:
        sources = self.store.sources()
        return CollectionStatus(
            root=str(self.root),
            store=str(self.store.path),
            encoders=[e.to_dict() for e in self.encoder_infos],
            sources=sum(1 for s in sources.values() if s.status == "ok"),
            failed=sorted((s.path, s.error) for s in sources.values() if s.status == "failed"),
            items=self.store.counts(),
            disk_bytes=self.store.disk_bytes(),
        )

    # ------------------------------------------------------------------ answers
    def ask(self, question: str, **kwargs: Any) -> Answer:
        """Answer from the collection with citations; see :func:`polyseek.rag.ask`."""
        from polyseek.rag import ask

        return ask(self, question, **kwargs)


def _open_query_image(image: Image | Path | str) -> Image:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if not isinstance(image, (str, Path)):
        return image.convert("RGB")
    path = Path(image).expanduser()
    try:
        with PILImage.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError as exc:
        raise QueryError(f"{path}: no such image file") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise QueryError(f"{path}: cannot read the query image ({exc})") from exc
