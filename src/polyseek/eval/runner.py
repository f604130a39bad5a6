"""Run an evaluation: index a dataset's candidate pools, search every query, score.

Each pool (the union of all candidates, and each task's local pool) gets its own
collection, written by the same :class:`~polyseek.indexing.Indexer` that ``polyseek
index`` uses (previews, commits, full-text index, calibration statistics); candidates
are embedded once per encoder and dataset (:class:`PoolEmbedder` hands the vectors to
every pool). Queries go through the engine's search pipeline with the configured
:class:`~polyseek.search.base.Ranking`, with exhaustive (exact) search by default, so the
same configuration gives the same numbers every time; query vectors are embedded once
per evaluator.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from polyseek.collection import Collection
from polyseek.encoders import load_encoder
from polyseek.encoders.base import Encoder
from polyseek.encoders.items import embed_items
from polyseek.engine import Engine
from polyseek.errors import ConfigError, PolyseekError, QueryError
from polyseek.eval.base import EvalDataset, EvalDoc, EvalQuery
from polyseek.eval.metrics import CURVE_CUTOFFS, METRIC_NAMES, PRIMARY_METRIC, mean, per_query
from polyseek.indexing import LoadedSource
from polyseek.indexing import Progress as IndexProgress
from polyseek.search.base import Query, Ranking
from polyseek.search.embedder import QueryEmbedder
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)

EVAL_FORMAT_VERSION = 2  # 2: per-query metrics in every task
COMMIT_BATCH = 256


@dataclass(frozen=True)
class EvalConfig:
    """Everything that decides the numbers; recorded in the output.

    ``ranking`` is how queries are ranked (the same options as ``polyseek search``);
    evaluation searches exhaustively unless ``ranking.exact`` is False (the ANN path,
    whose recall against exact search is then reported). :meth:`of` takes ranking and
    evaluation options as keywords alike.
    """

    encoders: tuple[str, ...] = ("minilm",)
    ranking: Ranking = field(default_factory=Ranking)
    image_weight: float = 0.5  # share of the image in composed (image + text) queries
    instructions: tuple[tuple[str, str], ...] = ()  # (task id or "*", prefix) pairs
    depth: int = 100  # results per query scored (map is over this depth)
    share_k: int = 10  # modality share is measured in the top share_k
    pools: tuple[str, ...] = ("local", "union")
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.encoders and self.ranking.dense:
            raise ConfigError("dense evaluation needs at least one encoder")
        if self.depth < 10:
            raise ConfigError(f"depth must be at least 10, got {self.depth}")
        for pool in self.pools:
            if pool not in ("local", "union"):
                raise ConfigError(f"unknown pool {pool!r}", hint="valid pools: local, union")
        if not 0.0 <= self.image_weight <= 1.0:
            raise ConfigError(f"image_weight must be in [0, 1], got {self.image_weight}")

    @classmethod
    def of(cls, **options: Any) -> EvalConfig:
        """``EvalConfig.of(lexical=True, pools=("union",))``: ranking options go to
        :class:`Ranking`, the rest to the configuration."""
        own = {f.name for f in fields(cls)} - {"ranking"}
        ranking = {k: v for k, v in options.items() if k not in own}
        rest = {k: v for k, v in options.items() if k in own}
        try:
            return cls(ranking=Ranking.from_options(ranking), **rest)
        except QueryError as exc:
            raise ConfigError(exc.message, hint=exc.hint) from None

    @property
    def exact(self) -> bool:
        return self.ranking.exact is not False

    def instruction(self, task: str) -> str:
        found = dict(self.instructions)
        return found.get(task, found.get("*", ""))

    def to_dict(self) -> dict[str, Any]:
        ranking = self.ranking.to_dict()
        del ranking["encoders"]  # a search-time restriction; evaluation uses every encoder
        ranking["exact"] = self.exact
        return {
            "encoders": list(self.encoders),
            **ranking,
            "image_weight": self.image_weight,
            "instructions": dict(self.instructions),
            "depth": self.depth,
            "share_k": self.share_k,
            "pools": list(self.pools),
            "seed": self.seed,
        }


class EvalProgress:
    """Callbacks of a run, phase by phase (the CLI draws them on stderr); silent here.

    ``phase`` starts one ("indexing union pool", its candidate count; "searching ...", its
    query count); ``advance`` moves it on.
    """

    def phase(self, description: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...


class _IndexingPhase(IndexProgress):
    """The indexer's per-batch callbacks, as progress of an evaluation phase."""

    def __init__(self, progress: EvalProgress) -> None:
        self.progress = progress

    def advance(self, files: int, items: int) -> None:
        self.progress.advance(files)


class PoolEmbedder:
    """Embeds each candidate once per encoder, for every pool index of one dataset.

    An :class:`~polyseek.indexing.ItemEmbedder`: the first pool to need a batch embeds it
    (:func:`~polyseek.encoders.items.embed_items`); later pools get the same rows.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[np.ndarray]] = {}

    def __call__(
        self, encoder: Encoder, items: list[Item], pooling: str
    ) -> tuple[list[str], np.ndarray]:
        spec = encoder.info.spec
        todo = [it for it in items if (spec, it.id) not in self._rows]
        if todo:
            ids, vectors = embed_items(encoder, todo, pooling)
            for it in todo:
                self._rows[(spec, it.id)] = []
            for item_id, vec in zip(ids, vectors, strict=True):
                self._rows[(spec, item_id)].append(vec)
        out_ids: list[str] = []
        rows: list[np.ndarray] = []
        for it in items:
            for vec in self._rows[(spec, it.id)]:
                out_ids.append(it.id)
                rows.append(vec)
        if not rows:
            return [], np.zeros((0, encoder.info.dim), np.float32)
        return out_ids, np.stack(rows).astype(np.float32, copy=False)


def _load_image(path: Path):  # type: ignore[no-untyped-def]
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the image ({exc})") from exc


def _source(doc: EvalDoc) -> LoadedSource:
    """A candidate as a source of one item (its image kept for encoders and the preview)."""
    item = Item(
        source=doc.id,
        modality=doc.modality,
        locator=Locator(),
        text=doc.text,
        image=_load_image(doc.image_path) if doc.image_path else None,
        metadata={"doc_id": doc.id},
    )
    digest = hashlib.sha1(f"{doc.text}\0{doc.image_path}".encode()).hexdigest()
    return LoadedSource(doc.id, [item], digest)


class Evaluator:
    """Evaluates one configuration on datasets. ``work_dir`` holds the pool indexes."""

    def __init__(
        self,
        config: EvalConfig,
        *,
        encoders: Sequence[Encoder] | None = None,
        work_dir: str | Path | None = None,
        progress: EvalProgress | None = None,
    ) -> None:
        self.config = config
        self.progress = progress or EvalProgress()
        self.encoders = (
            list(encoders) if encoders is not None else [load_encoder(s) for s in config.encoders]
        )
        self.work_dir = Path(work_dir) if work_dir is not None else None
        # Caches across runs of this evaluator (e.g. several ranking options, one dataset):
        # candidate vectors, pool indexes and query vectors depend only on the encoders.
        self._tmp: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._pool_embedders: dict[int, PoolEmbedder] = {}
        self._engines: dict[tuple[int, str], Engine] = {}
        self._query_vectors: dict[Any, np.ndarray] = {}

    def configure(self, config: EvalConfig) -> None:
        """Switch ranking options for the next :meth:`run`; encoders must stay the same."""
        if config.encoders != self.config.encoders:
            raise ConfigError("configure() cannot change encoders: make a new Evaluator")
        self.config = config

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the pool indexes (a temporary folder unless ``work_dir`` was given)."""
        self._engines.clear()
        if self._finalizer is not None:
            self._finalizer()  # removes the temporary folder once
            self._finalizer, self._tmp = None, None

    def _work(self) -> Path:
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            return self.work_dir
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="polyseek-eval-"))
            # Removed on close(), or when the evaluator is garbage-collected.
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def _engine(self, dataset: EvalDataset, name: str, pool: Sequence[str]) -> Engine:
        """The index of one pool (built on first use) with the evaluator's query cache."""
        key = (id(dataset), name)
        if key not in self._engines:
            path = self._work() / f"{dataset.name}-{len(self._engines)}-{name}"
            if path.exists():
                shutil.rmtree(path)
            collection = Collection.create(dataset.path, path, self.encoders)
            embedder = self._pool_embedders.setdefault(id(dataset), PoolEmbedder())
            sources = (_source(dataset.docs[d]) for d in pool)
            self.progress.phase(f"indexing {name} pool", len(pool))
            collection.indexer(batch_files=COMMIT_BATCH, embedder=embedder).index_sources(
                sources, progress=_IndexingPhase(self.progress)
            )
            queries = QueryEmbedder(collection, cache=self._query_vectors)
            self._engines[key] = Engine(collection, queries)
            logger.info("indexed pool %s of %s: %d candidates", name, dataset.name, len(pool))
        return self._engines[key]

    # ------------------------------------------------------------------ searching
    def _query(self, q: EvalQuery, ranking: Ranking) -> Query:
        text = q.text
        prefix = self.config.instruction(q.task)
        if prefix and text:
            text = f"{prefix}{text}"
        return Query(
            text=text,
            image=q.image_path,
            top=self.config.depth,
            image_weight=self.config.image_weight,
            ranking=ranking,
        )

    def _search(
        self,
        engine: Engine,
        queries: Sequence[EvalQuery],
        ranking: Ranking,
        phase: str | None = None,
    ) -> dict[str, list[tuple[str, str]]]:
        """query id -> [(doc id, modality)] best first; ``phase`` names it in the progress."""
        if phase is not None:
            self.progress.phase(phase, len(queries))
        results = engine.search_batch([self._query(q, ranking) for q in queries])
        if phase is not None:
            self.progress.advance(len(queries))
        return {
            q.id: [(h.source, h.modality) for h in result.hits]
            for q, result in zip(queries, results, strict=True)
        }

    def _ranking(self) -> Ranking:
        """The configured ranking; exhaustive search unless the ANN path was asked for."""
        r = self.config.ranking
        return replace(r, exact=self.config.exact)

    # ------------------------------------------------------------------ scoring
    def _score_task(
        self,
        dataset: EvalDataset,
        task: str,
        ranked: Mapping[str, list[tuple[str, str]]],
    ) -> dict[str, Any]:
        info = dataset.tasks[task]
        qids = [q.id for q in dataset.queries_of(task)]
        run = {
            qid: {did: float(len(ranked[qid]) - i) for i, (did, _) in enumerate(ranked[qid])}
            for qid in qids
        }
        qrels = {qid: dataset.qrels[qid] for qid in qids}
        rows = per_query(qrels, run)
        k = self.config.share_k
        share_of = {
            qid: sum(1 for _, m in ranked[qid][:k] if m == info.target_modality)
            / len(ranked[qid][:k])
            for qid in qids
            if ranked[qid]
        }
        shares = list(share_of.values())
        curve_names = tuple(f"hit@{c}" for c in CURVE_CUTOFFS) + tuple(
            f"recall@{c}" for c in CURVE_CUTOFFS
        )
        curve = mean(rows, curve_names)
        return {
            "name": info.name,
            "target_modality": info.target_modality,
            "queries": len(qids),
            "metrics": mean(rows, METRIC_NAMES),
            f"target_share@{k}": round(float(np.mean(shares)), 6) if shares else 0.0,
            "mean_results": round(float(np.mean([len(ranked[q]) for q in qids])), 6),
            "curves": {
                "hit": [curve[f"hit@{c}"] for c in CURVE_CUTOFFS],
                "recall": [curve[f"recall@{c}"] for c in CURVE_CUTOFFS],
            },
            # Per judged query, for paired significance tests (polyseek compare).
            "per_query": {
                qid: {
                    **{n: round(float(row[n]), 6) for n in METRIC_NAMES},
                    f"target_share@{k}": round(share_of.get(qid, 0.0), 6),
                }
                for qid, row in rows.items()
            },
        }

    @staticmethod
    def _average(tasks: Mapping[str, Mapping[str, Any]], share_key: str) -> dict[str, Any]:
        ok = [t for t in tasks.values() if "metrics" in t]
        if not ok:
            return {}
        return {
            "metrics": {
                n: round(float(np.mean([t["metrics"][n] for t in ok])), 6) for n in METRIC_NAMES
            },
            share_key: round(float(np.mean([t[share_key] for t in ok])), 6),
            "tasks": len(ok),
        }

    # ------------------------------------------------------------------ run
    def run(self, dataset: EvalDataset) -> dict[str, Any]:
        """Evaluate; the result (JSON-ready) holds every number and the configuration."""
        import torch

        torch.manual_seed(self.config.seed)
        started = time.perf_counter()
        self._check_instructions(dataset)
        share_key = f"target_share@{self.config.share_k}"
        ranking = self._ranking()
        pools: dict[str, dict[str, Any]] = {}
        union = self._engine(dataset, "union", sorted(dataset.docs))
        # Which pool's results are checked against exact search (ANN, first pass): the
        # union's, or each task's local pool when only local pools are evaluated.
        checked: dict[str, Engine] = {}
        checked_ranked: dict[str, list[tuple[str, str]]] = {}
        if "union" in self.config.pools:
            pools["union"], checked_ranked, checked = self._pool(
                dataset, "union", ranking, share_key, lambda task: union
            )
        if "local" in self.config.pools:
            pools["local"], local_ranked, local_engines = self._pool(
                dataset,
                "local",
                ranking,
                share_key,
                lambda task: self._local(dataset, task, union),
                same_as=pools.get("union"),
            )
            if "union" not in self.config.pools:
                checked, checked_ranked = local_engines, local_ranked
        ann = None if self.config.exact else self._ann_recall(checked, dataset, checked_ranked)
        first_pass = (
            None
            if ranking.first_pass_plan.is_exact
            else self._ann_recall(checked, dataset, checked_ranked)
        )
        result = self._result(dataset, ranking, pools, share_key, ann, first_pass)
        logger.info("evaluated %s in %.1f s", dataset.name, time.perf_counter() - started)
        return result

    def _local(self, dataset: EvalDataset, task: str, union: Engine) -> Engine:
        """The engine over ``task``'s local pool (the union when it has none)."""
        pool = dataset.tasks[task].pool
        return union if pool is None else self._engine(dataset, f"local-{task}", sorted(pool))

    def _pool(
        self,
        dataset: EvalDataset,
        name: str,
        ranking: Ranking,
        share_key: str,
        engine_of: Callable[[str], Engine],
        same_as: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, list[tuple[str, str]]], dict[str, Engine]]:
        """Search and score every task in one pool: ``(pool result, ranked lists, engine
        of each task that was searched)``. A task without a local pool whose union results
        exist (``same_as``: BEIR) reuses them, marked so that compare tests them once."""
        tasks_out: dict[str, dict[str, Any]] = {}
        ranked_all: dict[str, list[tuple[str, str]]] = {}
        engines: dict[str, Engine] = {}
        for task, info in dataset.tasks.items():
            if same_as is not None and info.pool is None and task in same_as["tasks"]:
                tasks_out[task] = {**same_as["tasks"][task], "same_as": "union"}
                continue
            engine = engine_of(task)
            try:
                ranked = self._search(
                    engine, dataset.queries_of(task), ranking, f"searching {name}, task {task}"
                )
            except PolyseekError as exc:
                tasks_out[task] = {"name": info.name, "error": exc.message}
                continue
            ranked_all.update(ranked)
            engines[task] = engine
            tasks_out[task] = self._score_task(dataset, task, ranked)
        return (
            {"tasks": tasks_out, "average": self._average(tasks_out, share_key)},
            ranked_all,
            engines,
        )

    def _result(
        self,
        dataset: EvalDataset,
        ranking: Ranking,
        pools: dict[str, dict[str, Any]],
        share_key: str,
        ann: dict[str, Any] | None,
        first_pass: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The JSON-ready result: dataset, configuration, pools and exactness checks."""
        result: dict[str, Any] = {
            "format_version": EVAL_FORMAT_VERSION,
            "dataset": {
                "name": dataset.name,
                "format": dataset.format,
                "candidates": len(dataset.docs),
                "queries": len(dataset.queries),
                "tasks": {t: info.name for t, info in dataset.tasks.items()},
            },
            "config": self.config.to_dict(),
            "encoders": [e.info.to_dict() for e in self.encoders],
            "reranker": ranking.rerank_name,
            "primary_metric": PRIMARY_METRIC,
            "pools": pools,
            "modality_bias": self._bias(pools, share_key),
        }
        checked_pool = "union" if "union" in self.config.pools else "local"
        if ann is not None:
            result["ann"] = {**ann, "pool": checked_pool}
        if first_pass is not None:
            result["first_pass"] = {
                "spec": ranking.first_pass,
                "oversample": ranking.oversample,
                **first_pass,
                "pool": checked_pool,
            }
        return result

    def _check_instructions(self, dataset: EvalDataset) -> None:
        """An instruction for a task the dataset lacks is a mistake (a typo, another
        dataset's ids): say so with the known ids instead of ignoring it."""
        unknown = [t for t, _ in self.config.instructions if t != "*" and t not in dataset.tasks]
        if unknown:
            known = ", ".join(f"{t} ({info.name})" for t, info in sorted(dataset.tasks.items()))
            raise ConfigError(
                f"instruction for task {unknown[0]!r}, which {dataset.name} does not have",
                hint=f"its task ids: {known}; or *=TEXT for every task",
            )

    def _ann_recall(
        self,
        engines: Mapping[str, Engine],
        dataset: EvalDataset,
        ann_ranked: Mapping[str, list[tuple[str, str]]],
    ) -> dict[str, Any]:
        """Recall@10 of the ANN (or first-pass) results against exhaustive search, each
        task in the pool (``engines[task]``) its results came from."""
        overlaps = []
        for task, engine in engines.items():
            queries = [q for q in dataset.queries_of(task) if q.id in ann_ranked]
            if not queries:
                continue
            exhaustive = replace(self._ranking(), exact=True, first_pass="none")
            exact = self._search(engine, queries, exhaustive, f"exact search, task {task}")
            for q in queries:
                want = {d for d, _ in exact[q.id][:10]}
                got = {d for d, _ in ann_ranked[q.id][:10]}
                if want:
                    overlaps.append(len(want & got) / len(want))
        return {"recall@10_vs_exact": round(float(np.mean(overlaps)), 6) if overlaps else None}

    @staticmethod
    def _bias(pools: Mapping[str, Any], share_key: str) -> dict[str, Any]:
        """Per task: target-modality share in each pool, and the metric drop local -> union."""
        local = pools.get("local", {}).get("tasks", {})
        union = pools.get("union", {}).get("tasks", {})
        out: dict[str, Any] = {}
        for task in sorted(set(local) | set(union)):
            entry: dict[str, Any] = {}
            for name, tasks in (("local", local), ("union", union)):
                if "metrics" in tasks.get(task, {}):
                    entry[f"{share_key}_{name}"] = tasks[task][share_key]
            if "metrics" in local.get(task, {}) and "metrics" in union.get(task, {}):
                entry["drop"] = {
                    n: round(local[task]["metrics"][n] - union[task]["metrics"][n], 6)
                    for n in METRIC_NAMES
                }
            out[task] = entry
        return out


def evaluate(
    dataset: EvalDataset, config: EvalConfig | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Evaluate ``config`` (default: MiniLM, dense, exact) on ``dataset``."""
    with Evaluator(config or EvalConfig(), **kwargs) as evaluator:
        return evaluator.run(dataset)


__all__ = ["EVAL_FORMAT_VERSION", "EvalConfig", "EvalProgress", "Evaluator", "evaluate"]
