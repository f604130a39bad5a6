"""Backfill: embed the items already in an index with an encoder added to it later.

The run is incremental and crash-safe without a journal of its own, because the store's
generation protocol already says what is done: a backfilled row carries its item's
generation (``gen``), so it is visible the moment it is written and vanishes with the
item. What is left to do is therefore "visible items with no row of this encoder", read
afresh at every start; a batch is written in one LanceDB append (all of an item's rows
or none). A process killed at any point leaves at worst one batch unwritten: the next
run embeds it, and nothing twice. Items the encoder gives no row (an image with no text,
for a text encoder) are listed in ``lifecycle/<key>.empty.json`` after their batch, so
a run does not try them again; losing that list costs a retry, never a wrong row.

What the backfill embeds is what the index keeps: an item's stored text and passages
(exactly what the text encoders embedded at indexing time) and its stored preview (the
picture, at most 512 px, that image-text and late-interaction encoders see; CLIP-like
models resize to 224 px anyway). What the index does not keep is read again from the
item's source file when that file is unchanged since it was indexed (same size and
mtime): the sound of audio segments and video moments, for audio-text encoders, and all
of a video moment's keyframes (at its recorded ``keyframe_times``), which image-text
encoders pool as the indexer did. An item whose file has changed or gone keeps what the
index has (its preview; no sound: no row) and the next index run re-embeds the file with
every encoder.

Writers take turns: a backfill holds ``lifecycle/backfill.lock`` for its whole run (one
backfill at a time) and the store's write lock only while it appends a batch, so
``polyseek index`` runs can interleave with it; items indexed meanwhile are embedded by
the indexer itself (the manifest already lists the new encoder).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.encoders.items import embed_items
from polyseek.errors import ConfigError, IngestError, StoreError
from polyseek.store.base import SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Item

if TYPE_CHECKING:
    from polyseek.collection import Collection

logger = logging.getLogger(__name__)

LIFECYCLE_DIR = "lifecycle"
BATCH_ITEMS = 256  # as the indexer; per-batch store work (a read, an append) is ~0.2 s here
WRITE_WAIT_S = 600.0  # how long a batch waits for another writer (an index run) to finish


@dataclass(frozen=True)
class BackfillProgress:
    """How far an encoder's backfill is: ``done`` of ``total`` visible items."""

    spec: str
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.done / self.total

    def to_dict(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "done": self.done,
            "total": self.total,
            "fraction": round(self.fraction, 4),
        }


BatchCallback = Callable[[int, int], None]
"""``(items done so far, items in all)``, after each written batch."""


def lifecycle_dir(store: LanceStore) -> Path:
    path = store.path / LIFECYCLE_DIR
    path.mkdir(exist_ok=True)
    return path


def check_backfillable(info: EncoderInfo) -> None:
    """Refuse an encoder a live index cannot be backfilled with (none today: an audio-text
    one hears the items' sound again from their source files)."""
    if info.kind not in ("text", "image-text", "audio-text", "late-interaction"):
        raise ConfigError(f"{info.spec}: encoders of kind {info.kind!r} cannot be backfilled")


# --------------------------------------------------------------------------- state
def _empty_path(store: LanceStore, key: str) -> Path:
    return store.path / LIFECYCLE_DIR / f"{key}.empty.json"


def empty_marks(store: LanceStore, key: str) -> set[str]:
    """``id@gen`` of items this encoder was given and made no row of."""
    path = _empty_path(store, key)
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return set()


def _save_empty(store: LanceStore, key: str, marks: set[str]) -> None:
    path = _empty_path(store, key)
    lifecycle_dir(store)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(marks)), encoding="utf-8")
    os.replace(tmp, path)


def forget_state(store: LanceStore, key: str) -> None:
    _empty_path(store, key).unlink(missing_ok=True)


def pending_items(store: LanceStore, key: str) -> tuple[list[tuple[str, str]], int]:
    """Visible items this encoder has not embedded yet, as (id, gen), and how many are
    visible in all."""
    committed = store.committed()
    view = store.vectors(key)
    empty = empty_marks(store, key)
    todo = []
    visible = store.item_texts()
    for item_id, source, _text in visible:
        gen = committed.get(source)
        if gen is None or view.has(item_id) or f"{item_id}@{gen}" in empty:
            continue
        todo.append((item_id, gen))
    return todo, len(visible)


def progress_of(store: LanceStore, info: EncoderInfo) -> BackfillProgress:
    todo, total = pending_items(store, info.key)
    return BackfillProgress(info.spec, total - len(todo), total)


# --------------------------------------------------------------------------- items
def as_item(stored: StoredItem, store: LanceStore, with_picture: bool) -> Item:
    """The item as the indexer had it, from what the index keeps (text, passages, and
    the preview as its picture)."""
    image = None
    preview = store.preview_file(stored) if with_picture else None
    if preview is not None and preview.is_file():
        from PIL import Image as PILImage

        with PILImage.open(preview) as img:
            img.load()
            image = img.convert("RGB")
    return Item(
        source=stored.source,
        modality=stored.modality,
        locator=stored.locator,
        text=stored.text,
        image=image,
        metadata=stored.metadata,
        passages=list(stored.passages),
    )


def needs_source(stored: StoredItem, kind: str) -> bool:
    """Whether an encoder of ``kind`` needs what the index does not keep of an item: its
    sound (audio-text: audio segments, video moments) or a moment's other keyframes."""
    if stored.locator.start_s is None or stored.locator.end_s is None:
        return False
    if kind == "audio-text":
        return stored.modality in ("audio", "video")
    if kind == "image-text":
        return stored.modality == "video" and len(stored.metadata.get("keyframe_times") or []) > 1
    return False


def reread_media(
    items: Sequence[Item], kind: str, root: Path, records: Mapping[str, SourceRecord]
) -> int:
    """Fill in the sound or keyframes of ``items`` that need them from their unchanged
    source files (see the module's docstring); returns how many items got them."""
    by_source: dict[str, list[Item]] = {}
    for it in items:
        by_source.setdefault(it.source, []).append(it)
    filled = 0
    for source, group in by_source.items():
        path, record = root / source, records.get(source)
        try:
            st = path.stat()
        except OSError as exc:
            logger.warning("backfill: %s is not readable (%s): its previews are used", path, exc)
            continue
        if record is None or (st.st_size, st.st_mtime_ns) != (record.size, record.mtime_ns):
            logger.warning("backfill: %s changed since it was indexed: re-index it", path)
            continue
        try:
            filled += (
                _fill_audio(group, path) if kind == "audio-text" else _fill_frames(group, path)
            )
        except (IngestError, OSError) as exc:
            logger.warning("backfill: cannot read %s again: %s", path, exc)
    return filled


# The media readers are imported here, not with the module: `polyseek status` reads the
# backfill's progress from this module and should not load them.
def _fill_audio(group: list[Item], path: Path) -> int:
    from polyseek.ingest.audio import span_audio
    from polyseek.ingest.media import decode_audio

    _, audio = decode_audio(path)
    for it in group:
        it.audio = span_audio(audio, it.locator.start_s or 0.0, it.locator.end_s or 0.0)
    return sum(it.audio is not None for it in group)


def _fill_frames(group: list[Item], path: Path) -> int:
    from polyseek.ingest.video import keyframes_at

    times = sorted({float(t) for it in group for t in it.metadata["keyframe_times"]})
    pictures = dict(zip(times, keyframes_at(path, times), strict=False))
    filled = 0
    for it in group:
        frames = [pictures[t] for t in it.metadata["keyframe_times"] if t in pictures]
        if frames:
            it.image, it.keyframes = frames[0], frames
            filled += 1
    return filled


def keyframe_pooling(store: LanceStore, info: EncoderInfo, stored: Sequence[StoredItem]) -> str:
    """How the index pooled video keyframes (the run's option is not recorded): ``max``
    when another image-text encoder keeps several rows for a moment, else ``mean``."""
    moments = [s.id for s in stored if s.modality == "video"]
    if info.kind != "image-text" or not moments:
        return "mean"
    for other in store.manifest.encoders:
        if other.kind == "image-text" and other.key != info.key:
            view = store.vectors(other.key)
            if any(len(view.rows_of(i)) > 1 for i in moments):
                return "max"
    return "mean"


def embed_stored(
    encoder: Encoder,
    store: LanceStore,
    stored: Sequence[StoredItem],
    pooling: str = "mean",
    root: Path | None = None,
) -> tuple[list[StoredItem], np.ndarray, set[str]]:
    """``(one stored item per row, rows, ids of items that got no row)``; with the
    collection's ``root``, sound and keyframes are read again from the source files."""
    with_picture = encoder.kind != "text"
    # Pages before their regions: a region reuses its page's passage vectors.
    ordered = sorted(stored, key=lambda s: s.locator.region is not None)
    items = [as_item(s, store, with_picture) for s in ordered]
    needy = [it for it, s in zip(items, ordered, strict=True) if needs_source(s, encoder.kind)]
    if needy and root is not None:
        filled = reread_media(needy, encoder.kind, root, store.sources())
        logger.info("backfill: %d of %d items read again from their files", filled, len(needy))
    by_id = {s.id: s for s in ordered}
    ids, vectors = embed_items(encoder, items, pooling)
    for item in items:
        item.image, item.keyframes, item.audio = None, [], None
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise StoreError(f"backfill: embedded rows for unknown items {unknown[:3]}")
    return [by_id[i] for i in ids], vectors, set(by_id) - set(ids)


# --------------------------------------------------------------------------- locking
@contextmanager
def backfill_lock(store: LanceStore) -> Iterator[None]:
    """One backfill (or upgrade) per index at a time (flock: released if killed)."""
    fd = os.open(lifecycle_dir(store) / "backfill.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise StoreError(
            f"another backfill is running on the index at {store.path}",
            hint="`polyseek encoders status` shows how far it is; it carries on by itself",
        ) from exc
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def writing_when_free(store: LanceStore, wait_s: float = WRITE_WAIT_S) -> Iterator[None]:
    """The store's write lock, waiting while another writer (an index run) holds it."""
    deadline = time.monotonic() + wait_s
    while True:
        store.reload_manifest()  # another process may have added or dropped an encoder
        stack = ExitStack()
        try:
            stack.enter_context(store.writing())
            break
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with stack:
        yield


# --------------------------------------------------------------------------- the run
def write_rows(
    store: LanceStore, info: EncoderInfo, owners: list[StoredItem], vectors: np.ndarray
) -> int:
    """Append rows of items still visible in the generation they were read in (hold the
    write lock); return how many rows."""
    if info not in store.manifest.encoders:
        raise StoreError(f"{info.spec} was removed from the index while it was being backfilled")
    committed = store.committed()
    keep = [n for n, s in enumerate(owners) if committed.get(s.source) == s.gen]
    if not keep:
        return 0
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(owners), info.dim)[keep]
    store.add_vectors(info.key, [owners[n] for n in keep], rows)
    return len(keep)


def run_backfill(
    collection: Collection,
    info: EncoderInfo,
    *,
    batch_items: int = BATCH_ITEMS,
    on_batch: BatchCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BackfillProgress:
    """Embed every visible item ``info`` lacks, batch by batch (hold :func:`backfill_lock`)."""
    store = collection.store
    if not isinstance(store, LanceStore):
        raise StoreError("backfill needs the embedded LanceDB store")
    encoder = collection.encoder(info)
    todo, total = pending_items(store, info.key)
    done = total - len(todo)
    logger.info("backfill of %s: %d of %d items to embed", info.spec, len(todo), total)
    if on_batch is not None:
        on_batch(done, total)
    empty = empty_marks(store, info.key)
    for start in range(0, len(todo), batch_items):
        if should_stop is not None and should_stop():
            break
        chunk = todo[start : start + batch_items]
        stored = list(store.get_items([i for i, _ in chunk]).values())
        owners, vectors, no_rows = embed_stored(
            encoder,
            store,
            stored,
            pooling=keyframe_pooling(store, info, stored),
            root=collection.root,
        )
        with writing_when_free(store):
            written = write_rows(store, info, owners, vectors)
        empty |= {f"{s.id}@{s.gen}" for s in stored if s.id in no_rows}
        if no_rows:
            _save_empty(store, info.key, empty)
        done += len(chunk)
        logger.info("backfill of %s: wrote %d rows (%d/%d items)", info.spec, written, done, total)
        if on_batch is not None:
            on_batch(done, total)
    return progress_of(store, info)


__all__ = [
    "BackfillProgress",
    "BatchCallback",
    "backfill_lock",
    "check_backfillable",
    "embed_stored",
    "progress_of",
    "run_backfill",
    "write_rows",
    "writing_when_free",
]
