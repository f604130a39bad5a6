"""Ingest on a Ray cluster: files are read in Ray Data tasks, embedded in an actor pool,
and committed by the driver (``polyseek index DIR --ray ADDRESS``).

Division of work, so that the store's guarantees do not change:

* the **driver** keeps change detection (size, mtime, then the content hash the tasks
  send back), the write lock and every commit: a batch of sources is committed once, by
  the one process that holds the lock, through the same generation-commit protocol as a
  local run. A worker that dies loses nothing committed; Ray Data retries its task (or
  restarts the actor) and the driver sees each file once. A driver that dies leaves
  staged rows without a record naming them, which the next run's ``recover`` deletes, so
  a re-run converges.
* **Ray Data tasks** hash and parse files (text, OCR, page renders, decoding):
  :func:`_load_batch`. Items travel pickled, one per file.
* an **actor pool** embeds them: :class:`_EmbedActor` loads each encoder once per actor
  and embeds the items of several files in one batch (a GPU per actor when the cluster
  has GPUs), then writes the vector rows as Lance data fragments of the store's tables
  itself (:mod:`polyseek.store.fragments`) and sends the driver only their metadata; the
  driver stages them with one ``Append`` commit per batch and table. The rows carry the
  generation the load task chose, so they stay invisible until the driver commits the
  source records naming it, exactly like rows the driver stages itself. An actor that
  cannot open the store's tables (a node without the shared path) sends the rows
  instead, as does ``RayExecutor(write_fragments=False)``.

The workers need the files at the same path as the driver (a shared file system) and
polyseek installed; the store may be a shared path or an object-store URI.
"""

from __future__ import annotations

import importlib.util
import logging
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.errors import ConfigError, IngestError, PolyseekError
from polyseek.indexing import Candidate, FileLoad, ItemEmbedder, file_hash, new_generation
from polyseek.ingest import IngestOptions, describe_os_error, iter_file
from polyseek.types import Item

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.indexing import Indexer
    from polyseek.store.fragments import FragmentTarget
    from polyseek.store.lancedb import LanceStore

logger = logging.getLogger(__name__)

LOAD_BATCH = 4  # files per load task
# Files per embedding call of an actor: 64 small texts per call cost 0.84x the CPU of 16
# (one thread; the encoder batches by tokens inside a call, so long files are safe too).
EMBED_BATCH = 64
# CPUs reserved per load task and per embedding actor: fractions, so that actors holding
# every CPU never starve the load tasks that feed them (a deadlock with whole CPUs).
LOAD_CPUS = 0.25
EMBED_CPUS = 0.5


def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (plain `ray` lacks what ray.data needs)
    except ImportError as exc:
        raise ConfigError("--ray needs Ray Data", hint="pip install 'polyseek[ray]'") from exc
    return ray


def _load_file(path: str, source: str, prev_hash: str, options: IngestOptions) -> FileLoad:
    try:
        digest = file_hash(Path(path))
    except OSError as exc:
        return FileLoad("", error=describe_os_error(exc))
    if digest == prev_hash:  # the driver keeps the old items
        return FileLoad(digest)
    try:
        return FileLoad(digest, list(iter_file(Path(path), source, options)), gen=new_generation())
    except IngestError as exc:
        return FileLoad(digest, error=exc.reason)


def _load_batch(batch: dict[str, np.ndarray], options: IngestOptions) -> dict[str, Any]:
    """A Ray Data task: hash and parse a few files."""
    loads = [
        _load_file(str(p), str(s), str(h), options)
        for p, s, h in zip(batch["path"], batch["source"], batch["prev_hash"], strict=True)
    ]
    return {"i": batch["i"], "load": [pickle.dumps(x) for x in loads]}


class _EmbedActor:
    """One copy of each encoder per actor; embeds the items of several files at once and
    writes the rows as fragments of the store's vector tables where it can."""

    def __init__(
        self,
        specs: list[str],
        pooling: str,
        threads: int,
        targets: dict[str, FragmentTarget] | None = None,
    ) -> None:
        from polyseek.encoders import load_encoder, set_compute_threads

        set_compute_threads(threads)  # before loading: ONNX Runtime sessions read it once
        self.encoders: list[Encoder] = [load_encoder(s) for s in specs]
        set_compute_threads(threads)  # and after: PyTorch, if a backend imported it
        self.pooling = pooling
        self.targets = {k: t for k, t in (targets or {}).items() if _reachable(t)}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from polyseek.encoders.items import embed_items
        from polyseek.store.fragments import RowOwner, vector_rows, write_fragments

        loads: list[FileLoad] = [pickle.loads(b) for b in batch["load"]]
        items = [it for x in loads for it in x.items]
        owners = {
            it.id: RowOwner(it.id, it.source, x.gen, it.modality) for x in loads for it in x.items
        }
        rows: dict[str, tuple[list[str], np.ndarray]] = {}
        fragments: dict[str, list[str]] = {}
        for enc in self.encoders:
            if not items:
                continue
            ids, vectors = embed_items(enc, items, self.pooling)
            target = self.targets.get(enc.info.key)
            if target is None:
                rows[enc.info.key] = (ids, vectors)
                continue
            table = vector_rows(
                target.dim, target.schema, [owners[i] for i in ids], vectors, enc.info.spec
            )
            fragments[enc.info.key] = write_fragments(target, table)
        for it in items:  # pixels and sound are not needed any more (previews excepted)
            it.keyframes, it.audio = [], None
        # The batch's rows (or fragments) once, with its first file (the others carry none).
        out = pickle.dumps((rows, fragments))
        return {
            "i": batch["i"],
            "load": [pickle.dumps(x) for x in loads],
            "vectors": [out if k == 0 else b"" for k in range(len(loads))],
        }


def _reachable(target: FragmentTarget) -> bool:
    """Whether this worker sees the table the driver writes (a shared path or object store):
    fragments written anywhere else would be lost to the driver's commit."""
    from polyseek.store.fragments import import_lance

    try:
        import_lance().dataset(target.uri, storage_options=target.storage_options or None)
    except Exception as exc:  # missing pylance, no such path on this node, no access
        logger.warning(
            "%s: cannot open the store's table %s from this worker (%s): its rows go to the "
            "driver instead of being written here",
            target.table,
            target.uri,
            str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        )
        return False
    return True


@dataclass
class RayExecutor:
    """Read and embed on a Ray cluster; the driver commits (see the module docstring).

    ``address``: ``local`` starts a Ray instance for the run, ``auto`` joins the cluster
    of this machine, ``ray://host:port`` a remote one. ``actors``: embedding actors
    (default: one per CPU of the cluster, at most 4). ``threads``: compute threads per
    actor (default: the cluster's CPUs divided among the actors).
    """

    address: str = "local"
    actors: int | None = None
    threads: int | None = None
    write_fragments: bool = True
    load_batch: int = LOAD_BATCH
    embed_batch: int = EMBED_BATCH
    build_indexes: bool = True  # full-text and ANN indexes built on the cluster (lance-ray)
    index_workers: int = 2  # Ray tasks (index segments) per index build
    _rows: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict, repr=False)
    _started: bool = field(default=False, repr=False)
    _store: LanceStore | None = field(default=None, repr=False)
    _taken: set[int] = field(default_factory=set, repr=False)
    staged_fragments: int = field(default=0, init=False)
    """Fragments the actors wrote and the driver staged in the last run."""

    def _connect(self) -> Any:
        ray = _require_ray()
        if not ray.is_initialized():
            address = None if self.address == "local" else self.address
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"--ray {self.address}: cannot connect to a Ray cluster ({exc})",
                    hint="use `--ray local` to start one for the run, `auto` on a node of a "
                    "running cluster (`ray start --head`), or ray://HOST:PORT",
                ) from exc
            self._started = True
        return ray

    def shutdown(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    @staticmethod
    def _threads(ray: Any, actors: int) -> int:
        """Compute threads per actor: the cluster's CPUs shared by its actors (one each on
        this 2-core machine), where each runtime would otherwise start one per core."""
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // max(1, actors))

    def _pool_size(self, ray: Any, files: int) -> int:
        """Actors: one per CPU (with EMBED_CPUS, half the CPUs stay free), at most 4, and
        no more than there are embedding batches."""
        blocks = max(1, -(-files // self.embed_batch))
        if self.actors:
            return min(self.actors, blocks)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(4, cpus, blocks))

    def load(
        self, indexer: Indexer, todo: Sequence[Candidate]
    ) -> Iterator[tuple[Candidate, FileLoad]]:
        if not todo:
            return
        ray = self._connect()
        self._taken = set()
        self.staged_fragments = 0
        gpus = ray.cluster_resources().get("GPU", 0)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [
            {
                "i": k,
                "path": str(c.path),
                "source": c.source,
                "prev_hash": c.previous.content_hash if c.previous else "",
            }
            for k, c in enumerate(todo)
        ]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // self.load_batch))
        ds = ds.map_batches(
            _load_batch,
            fn_kwargs={"options": indexer.options},
            batch_size=self.load_batch,
            num_cpus=LOAD_CPUS,
        )
        actors = self._pool_size(ray, len(todo))
        ds = ds.map_batches(
            _EmbedActor,
            fn_constructor_kwargs={
                "specs": [e.info.spec for e in indexer.encoders],
                "pooling": indexer.options.keyframe_pooling,
                "threads": self.threads or self._threads(ray, actors),
                "targets": self._targets(indexer),
            },
            batch_size=self.embed_batch,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=0 if gpus >= 1 else EMBED_CPUS,
            num_gpus=1 if gpus >= 1 else 0,
        )  # Ray Data restarts actors and retries tasks lost with a node by default
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                yield from self._take(batch, todo)
            if logger.isEnabledFor(logging.DEBUG):  # where a run's time went, per operator
                logger.debug("Ray Data stats:\n%s", ds.stats())
        except PolyseekError:
            raise
        except Exception as exc:  # a task failed past its retries, the cluster went away
            raise IngestError(
                "(ray)",
                f"the Ray run failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                "everything committed before is intact, run the command again to carry on",
            ) from exc

    def _targets(self, indexer: Indexer) -> dict[str, FragmentTarget]:
        """The store's vector tables the actors may write fragments to (none when the store
        is not a Lance store, pylance is missing, or ``write_fragments`` is off)."""
        from polyseek.store import distributed_index
        from polyseek.store.lancedb import LanceStore

        self._store = None
        store = indexer.store
        if isinstance(store, LanceStore) and self.build_indexes and distributed_index.available():
            # The run's full-text and ANN indexes are built by Ray tasks on this cluster.
            store.index_builder = distributed_index.RayIndexBuilder(self.index_workers)
        if not self.write_fragments or not isinstance(store, LanceStore):
            return {}
        if importlib.util.find_spec("lance") is None:
            logger.info("pylance is not installed: Ray actors send their rows to the driver")
            return {}
        self._store = store
        return {e.info.key: store.fragment_target(e.info.key) for e in indexer.encoders}

    def _take(
        self, batch: dict[str, np.ndarray], todo: Sequence[Candidate]
    ) -> Iterator[tuple[Candidate, FileLoad]]:
        files = [int(k) for k in batch["i"]]
        # Ray Data hands each block over once; should a retried block arrive twice all the
        # same, its rows are staged once (staging them again would duplicate them).
        fresh = not all(k in self._taken for k in files)
        self._taken.update(files)
        for k, raw, vec in zip(files, batch["load"], batch["vectors"], strict=True):
            if vec and fresh:  # the rows of one actor call, with its first file
                rows, fragments = pickle.loads(vec)
                for key, (ids, vectors) in rows.items():
                    table = self._rows.setdefault(key, {})
                    for item_id, row in zip(ids, vectors, strict=True):
                        table.setdefault(item_id, []).append(np.asarray(row, np.float32))
                for key, written in fragments.items():
                    assert self._store is not None  # fragments only when there is a store
                    self._store.append_fragments(key, written)
                    self.staged_fragments += len(written)
            yield todo[k], pickle.loads(raw)

    def embedder(self) -> ItemEmbedder:
        """Hands the rows the actors computed to the driver's commit (and forgets them)."""

        def embed(enc: Encoder, items: list[Item], pooling: str) -> tuple[list[str], np.ndarray]:
            table = self._rows.get(enc.info.key, {})
            ids: list[str] = []
            rows: list[np.ndarray] = []
            for it in dict.fromkeys(it.id for it in items):
                got = table.pop(it, [])
                ids.extend([it] * len(got))
                rows.extend(got)
            if not rows:
                return [], np.zeros((0, enc.info.dim), np.float32)
            return ids, np.stack(rows)

        return embed


__all__ = ["RayExecutor"]
