"""The indexing pipeline: scan -> load (threads) -> encode (batched) -> commit (atomic).

Loading (parsing, OCR, rendering, previews) runs in a small thread pool ahead of the
encoder, so decoding overlaps with encoding; a batch of finished files is encoded and
committed as one unit (see :mod:`polyseek.store.base` for why that is crash-safe). After
a run that changed anything, the indexer refreshes the collection's derived data (the
full-text index and the calibration statistics) before it lets go of the write lock.

Sources need not be files: :meth:`Indexer.index_sources` commits items another front
end made (the evaluator's candidate pools), through the same previews, encoding and
commits. Encoding goes through an :class:`ItemEmbedder`; the default embeds with the
collection's encoders, the evaluator's reuses vectors across the pools of one dataset.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from polyseek.encoders.base import Encoder
from polyseek.encoders.items import embed_items
from polyseek.errors import DiskFullError, IngestError
from polyseek.hub import report_model_loads
from polyseek.ingest import (
    SUPPORTED_EXTENSIONS,
    IngestOptions,
    describe_os_error,
    iter_file,
    page_progress,
)
from polyseek.ingest.media import media_progress
from polyseek.ingest.text import NOTE_KEY
from polyseek.store.base import SourceBatch, SourceRecord, StoredItem
from polyseek.types import Item

if TYPE_CHECKING:
    from polyseek.collection import Collection

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 512
STREAM_GROUP = 32  # items of one file handled at a time (previews, picture embeddings)
FIRST_BATCH = 32  # the first commit of a run is small: a kill early loses seconds


@dataclass
class IndexReport:
    """What an index run did. ``failed`` lists (path, reason) for every bad source."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    items: int = 0
    seconds: float = 0.0
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed, but not all of it

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "items": self.items,
            "seconds": round(self.seconds, 3),
            "notes": [{"path": p, "note": n} for p, n in self.notes],
        }


class Progress:
    """Callbacks the pipeline reports to; the CLI turns them into a progress bar."""

    def start(self, total_files: int) -> None: ...

    def status(self, text: str) -> None:
        """What the run is doing besides reading files ("loading model minilm", ...)."""

    def loaded(self, source: str, items: int) -> None:
        """A file is read (or failed), before its batch is committed (from loader threads)."""

    def advance(self, files: int, items: int) -> None:
        """A batch of ``files`` files and ``items`` items is committed."""

    def media(self, source: str, seconds_done: float, seconds_total: float | None) -> None:
        """How far decoding of a video/audio file has come (called from loader threads)."""

    def pages(self, source: str, done: int, total: int) -> None:
        """How many pages of a long document are read (called from loader threads)."""

    def stop(self) -> None: ...


ItemEmbedder = Callable[[Encoder, list[Item], str], tuple[list[str], np.ndarray]]
"""``(encoder, items, keyframe pooling) -> (item ids, vectors)``: a row per id; an item may
have several rows or none (:func:`~polyseek.encoders.items.embed_items` is the default)."""


@dataclass(frozen=True)
class LoadedSource:
    """A source that is not a file read by the indexer: its name, items and content hash."""

    path: str
    items: list[Item]
    content_hash: str


def new_generation() -> str:
    """A fresh generation id: the rows of one load of one file carry it."""
    return uuid.uuid4().hex[:12]


@dataclass
class FileLoad:
    """A file read elsewhere (a Ray task, :mod:`polyseek.indexing_ray`): its content hash
    and items, or why it failed. The driver turns it into a commit like a local load."""

    digest: str
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    # The generation its rows carry, when a worker wrote them to the store itself;
    # otherwise the driver picks one.
    gen: str = ""


class LoadExecutor(Protocol):
    """Reads and embeds the files to index somewhere else (a cluster); the driver keeps
    change detection and commits. ``load`` yields each candidate with its result (in any
    order); ``embedder`` returns the rows it computed for the items it is given."""

    def load(
        self, indexer: Indexer, todo: Sequence[Candidate]
    ) -> Iterator[tuple[Candidate, FileLoad]]: ...

    def embedder(self) -> ItemEmbedder: ...


@dataclass(frozen=True)
class _Candidate:
    path: Path
    source: str
    size: int
    mtime_ns: int
    previous: SourceRecord | None


@dataclass
class _Loaded:
    record: SourceRecord
    items: list[Item]
    previews: dict[str, str]  # item id -> preview path relative to the store
    reused: bool = False  # content unchanged (only the file's mtime moved)
    was_known: bool = False  # the source was in the index before this run
    # Rows already embedded while loading (encoders of pictures and sound), by encoder key.
    vectors: dict[str, tuple[list[str], list[np.ndarray]]] = field(default_factory=dict)


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def relative_source(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def scan(
    root: Path, skip: Sequence[Path] = (), *, collection: Path | None = None
) -> Iterator[Path]:
    """Supported files under ``root`` (a folder of ``collection``, by default itself).

    Hidden entries and the ``skip`` folders (the store) are left out, and so are links
    that lead out of the collection, to a hidden file or into a skipped folder.
    """
    skip_resolved = {p.resolve() for p in skip}
    top = (collection or root).resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and (here / d).resolve() not in skip_resolved
        )
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            path = here / name
            if path.is_symlink() and not _fair_link(path.resolve(), top, skip_resolved):
                logger.warning(
                    "skipping %s: a link out of the collection or to a hidden file", path
                )
                continue
            yield path


def _fair_link(target: Path, top: Path, skip: set[Path]) -> bool:
    if not target.is_relative_to(top) or any(target.is_relative_to(s) for s in skip):
        return False
    return not any(part.startswith(".") for part in target.relative_to(top).parts)


Candidate = _Candidate  # a file to (re)load, as :meth:`Indexer.plan` finds it


class Indexer:
    """Brings a collection's index up to date with its files (or with given sources)."""

    def __init__(
        self,
        collection: Collection,
        options: IngestOptions | None = None,
        *,
        batch_items: int = 256,
        batch_files: int = 256,
        workers: int = 2,
        embedder: ItemEmbedder | None = None,
        executor: LoadExecutor | None = None,
    ) -> None:
        self.collection = collection
        self.root = collection.root
        self.store = collection.store
        self.encoders = collection.encoders()
        self.executor = executor
        self.embed: ItemEmbedder = embedder or (executor.embedder() if executor else embed_items)
        self.options = options or IngestOptions()
        self.batch_items = batch_items
        self.batch_files = batch_files
        self.workers = workers
        self._progress = Progress()

    # ------------------------------------------------------------------ plan
    def plan(self, paths: Sequence[Path] | None = None) -> tuple[list[_Candidate], list[str], int]:
        """Files to (re)load, sources to remove, and the number left unchanged."""
        known = self.store.sources()
        files, folders = self._expand(paths)
        seen: set[str] = set()
        todo: list[_Candidate] = []
        unchanged = 0
        for path in files:
            source = relative_source(self.root, path)
            seen.add(source)
            try:
                st = path.stat()
            except OSError as exc:
                todo.append(_Candidate(path, source, -1, -1, known.get(source)))
                logger.debug("cannot stat %s: %s", path, exc)
                continue
            prev = known.get(source)
            if prev and prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns:
                unchanged += 1
                continue
            todo.append(_Candidate(path, source, st.st_size, st.st_mtime_ns, prev))
        if paths is None:
            removed = sorted(set(known) - seen)
        else:  # files gone from the folders given; files given by name are never removed
            removed = sorted(
                p
                for p in set(known) - seen
                if any(f == "" or p.startswith(f + "/") for f in folders)
            )
        return todo, removed, unchanged

    def _expand(self, paths: Sequence[Path] | None) -> tuple[list[Path], list[str]]:
        """Files to consider (a folder stands for the files under it) and the folders given."""
        if paths is None:
            return list(scan(self.root, [self.store.path])), []
        files: list[Path] = []
        folders: list[str] = []
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                rel = relative_source(self.root, path)
                folders.append("" if rel == "." else rel)
                files.extend(scan(path, [self.store.path], collection=self.root))
            else:
                files.append(path)
        return list(dict.fromkeys(files)), folders

    # ------------------------------------------------------------------ run
    def run(
        self, paths: Sequence[Path] | None = None, progress: Progress | None = None
    ) -> IndexReport:
        progress = progress or Progress()
        self._progress = progress
        report = IndexReport()
        started = time.perf_counter()
        with self.store.writing(), self._disk_full(report):
            self.store.recover()
            todo, removed, report.unchanged = self.plan(paths)
            if removed:
                report.removed = self.store.remove_sources(removed)
            progress.start(len(todo))
            try:
                self._load_encode_commit(todo, report, progress)
                progress.status("updating the search indexes")
                self._finish(report)
            finally:
                progress.stop()
            report.failed.sort()
        # Failures from earlier runs whose files did not change are still failures.
        fresh = {p for p, _ in report.failed}
        for rec in self.store.sources().values():
            if rec.status == "failed" and rec.path not in fresh:
                report.failed.append((rec.path, rec.error))
        report.seconds = time.perf_counter() - started
        return report

    def index_sources(
        self, sources: Iterable[LoadedSource], progress: Progress | None = None
    ) -> IndexReport:
        """Commit sources made elsewhere (no files are read), in the given order."""
        progress = progress or Progress()
        report = IndexReport()
        started = time.perf_counter()
        with self.store.writing(), self._disk_full(report):
            self.store.recover()
            known = self.store.sources()
            loaded = (self._loaded_source(s, known.get(s.path)) for s in sources)
            try:
                self._commit_stream(loaded, report, progress)
            finally:
                progress.stop()
            self._finish(report)
        report.seconds = time.perf_counter() - started
        return report

    @contextmanager
    def _disk_full(self, report: IndexReport) -> Iterator[None]:
        """A full disk stops the run with what it means: every earlier commit is intact."""
        try:
            yield
        except (DiskFullError, OSError) as exc:
            if not isinstance(exc, DiskFullError) and exc.errno not in (
                errno.ENOSPC,
                errno.EDQUOT,
            ):
                raise
            done = report.added + report.updated
            raise DiskFullError(
                f"no space left on the device holding the index at {self.store.path}: the run "
                f"stopped after committing {done} new or changed files; the index is intact "
                "and readable (a commit is all or nothing)",
                hint=f"free some space, then run `polyseek index {self.root}` again: it "
                "carries on where this run stopped",
            ) from None

    def _loaded_source(self, source: LoadedSource, prev: SourceRecord | None) -> _Loaded:
        gen = new_generation()
        rec = SourceRecord(
            path=source.path,
            content_hash=source.content_hash,
            size=0,
            mtime_ns=0,
            gen=gen,
            status="ok",
            n_items=len(source.items),
            indexed_at=time.time(),
        )
        return _Loaded(
            rec, source.items, self._write_previews(source.items, gen), was_known=prev is not None
        )

    def _finish(self, report: IndexReport) -> None:
        """After the last commit of a run: compact, index, refresh derived data."""
        changed = report.added + report.updated + report.removed > 0
        if changed:
            self.store.compact()
            self.store.maintain_indexes()
        self.collection.refresh(changed)

    def _load_encode_commit(
        self, todo: list[_Candidate], report: IndexReport, progress: Progress
    ) -> None:
        if self.executor is None:
            self._commit_stream(self._load_all(todo), report, progress)
            return
        loads = self.executor.load(self, todo)
        self._commit_stream((self._announced(c, r, progress) for c, r in loads), report, progress)

    def _announced(self, cand: Candidate, result: FileLoad, progress: Progress) -> _Loaded:
        loaded = self.loaded_file(cand, result)
        progress.loaded(cand.source, len(loaded.items))
        return loaded

    def loaded_file(self, cand: Candidate, result: FileLoad) -> _Loaded:
        """What :meth:`_load_one` makes of a file, from a load done elsewhere."""
        gen = result.gen or new_generation()
        prev = cand.previous
        if result.error is not None:
            return self._failed(cand, result.digest, gen, result.error)
        if prev and prev.content_hash == result.digest:
            rec = SourceRecord(**{**prev.__dict__, "size": cand.size, "mtime_ns": cand.mtime_ns})
            return _Loaded(rec, [], {}, reused=True, was_known=True)
        rec = self._record(cand, result.digest, gen, len(result.items))
        loaded = _Loaded(rec, [], {}, was_known=prev is not None)
        self._take(loaded, result.items, embed_now=False)
        return loaded

    def _commit_stream(
        self, stream: Iterable[_Loaded], report: IndexReport, progress: Progress
    ) -> None:
        """Commit loaded sources in batches of about ``batch_items`` items.

        The first batches are smaller (from ``FIRST_BATCH`` up, doubling), so a run killed
        early has committed its first files within seconds, not minutes.
        """
        pending: list[_Loaded] = []
        n_items = 0
        size = min(FIRST_BATCH, self.batch_items)
        for loaded in stream:
            pending.append(loaded)
            n_items += len(loaded.items)
            if n_items >= size or len(pending) >= min(size, self.batch_files):
                self._flush(pending, report, progress)
                pending, n_items = [], 0
                size = min(size * 2, self.batch_items)
        self._flush(pending, report, progress)

    def _load_all(self, todo: list[_Candidate]) -> Iterator[_Loaded]:
        """Load files in worker threads, in order, a bounded window ahead of the consumer."""
        window = max(2, self.workers * 4)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="polyseek-load") as pool:
            queue: deque[Future[_Loaded]] = deque()
            it = iter(todo)
            for cand in it:
                queue.append(pool.submit(self._load_one, cand))
                if len(queue) >= window:
                    break
            while queue:
                loaded = queue.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    queue.append(pool.submit(self._load_one, nxt))
                yield loaded

    def _load_one(self, cand: _Candidate) -> _Loaded:
        progress = self._progress
        with report_model_loads(lambda name: progress.status(f"loading model {name}")):
            loaded = self._load_file(cand)
        progress.loaded(cand.source, len(loaded.items))
        return loaded

    def _load_file(self, cand: _Candidate) -> _Loaded:
        gen = new_generation()
        prev = cand.previous
        try:
            digest = file_hash(cand.path)
        except OSError as exc:
            return self._failed(cand, "", gen, describe_os_error(exc))
        if prev and prev.content_hash == digest:
            # Same bytes, new mtime: keep the items, refresh the record.
            rec = SourceRecord(**{**prev.__dict__, "size": cand.size, "mtime_ns": cand.mtime_ns})
            return _Loaded(rec, [], {}, reused=True, was_known=True)
        loaded = _Loaded(self._record(cand, digest, gen, 0), [], {}, was_known=prev is not None)
        try:
            progress = self._progress
            with (
                media_progress(lambda done, total: progress.media(cand.source, done, total)),
                page_progress(lambda done, total: progress.pages(cand.source, done, total)),
            ):
                group: list[Item] = []
                for item in iter_file(cand.path, cand.source, self.options):
                    group.append(item)
                    if len(group) >= STREAM_GROUP:  # a long document: stream it
                        self._take(loaded, group, embed_now=True)
                        group = []
                self._take(loaded, group, embed_now=bool(loaded.vectors))
        except IngestError as exc:
            return self._failed(cand, digest, gen, exc.reason)
        loaded.record = self._record(cand, digest, gen, len(loaded.items))
        return loaded

    def _record(self, cand: _Candidate, digest: str, gen: str, n_items: int) -> SourceRecord:
        return SourceRecord(
            path=cand.source,
            content_hash=digest,
            size=cand.size,
            mtime_ns=cand.mtime_ns,
            gen=gen,
            status="ok",
            n_items=n_items,
            indexed_at=time.time(),
        )

    def _take(self, loaded: _Loaded, group: list[Item], embed_now: bool) -> None:
        """Keep a group of a file's items, previews written. With ``embed_now`` (a long
        document) its pictures and sound are embedded at once and let go, so memory does
        not grow with the document's length; a short file's are embedded at the flush,
        batched with other files'."""
        if not group:
            return
        loaded.previews.update(self._write_previews(group, loaded.record.gen))
        if not embed_now:
            loaded.items.extend(group)
            return
        for enc in self.encoders:
            if enc.kind == "text":
                continue  # texts are small: embedded in batches across files at the flush
            ids, vectors = self.embed(enc, group, self.options.keyframe_pooling)
            rows = loaded.vectors.setdefault(enc.info.key, ([], []))
            rows[0].extend(ids)
            rows[1].extend(vectors)
        for item in group:
            item.image, item.keyframes, item.audio = None, [], None
        loaded.items.extend(group)

    def _failed(self, cand: _Candidate, digest: str, gen: str, reason: str) -> _Loaded:
        # Info, not a warning: the report lists every failure (the CLI prints it once).
        logger.info("cannot index %s: %s", cand.source, reason)
        rec = SourceRecord(
            path=cand.source,
            content_hash=digest,
            size=max(cand.size, 0),
            mtime_ns=max(cand.mtime_ns, 0),
            gen=gen,
            status="failed",
            error=reason,
            indexed_at=time.time(),
        )
        return _Loaded(rec, [], {}, was_known=cand.previous is not None)

    def _write_previews(self, items: list[Item], gen: str) -> dict[str, str]:
        previews: dict[str, str] = {}
        for item in items:
            if item.image is None:
                continue
            path = self.store.media_path(item.source, item.id, gen)
            path.parent.mkdir(parents=True, exist_ok=True)
            thumb = item.image.copy()
            thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            thumb.convert("RGB").save(path, "JPEG", quality=85)
            previews[item.id] = path.relative_to(self.store.path).as_posix()
        return previews

    # ------------------------------------------------------------------ encode + commit
    def _flush(self, pending: list[_Loaded], report: IndexReport, progress: Progress) -> None:
        if not pending:
            return
        batch = SourceBatch()
        for loaded in pending:
            batch.records.append(loaded.record)
            gen = loaded.record.gen
            batch.items.extend(
                StoredItem.from_item(it, gen, loaded.previews.get(it.id)) for it in loaded.items
            )
        for enc in self.encoders:
            key = enc.info.key
            # Long documents' pictures were embedded while loading; the rest are now.
            streamed = [x for x in pending if enc.kind != "text" and key in x.vectors]
            done = {id(x) for x in streamed}
            rest = [it for x in pending if id(x) not in done for it in x.items]
            ids, vectors = self.embed(enc, rest, self.options.keyframe_pooling)
            if streamed:
                ids = [*ids, *(i for x in streamed for i in x.vectors[key][0])]
                rows = [v for x in streamed for v in x.vectors[key][1]]
                vectors = np.concatenate([vectors.reshape(-1, enc.info.dim), np.stack(rows)])
            if ids:
                batch.vectors[key] = (ids, vectors)
        self.store.commit(batch)
        logger.info("committed %d sources, %d items", len(pending), len(batch.items))
        for loaded in pending:
            rec = loaded.record
            notes = [it.metadata[NOTE_KEY] for it in loaded.items[:1] if NOTE_KEY in it.metadata]
            report.notes.extend((rec.path, str(n)) for n in notes)
            if rec.status == "failed":
                report.failed.append((rec.path, rec.error))
            elif loaded.reused:
                report.unchanged += 1
            elif loaded.was_known:
                report.updated += 1
            else:
                report.added += 1
            report.items += len(loaded.items)
        progress.advance(len(pending), sum(len(x.items) for x in pending))
