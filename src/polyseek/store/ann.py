"""Which on-disk ANN index a vector table gets, tuned by its size, and the recall it gives.

Below :data:`ANN_MIN_ROWS` rows search stays exact (an in-memory float32 matrix: a few ms
at 100k x 384). Above, LanceDB indexes the table on disk and the exact path is no longer
needed: a query reads its probed partitions and re-scores the head of the candidates at
full precision (``refine_factor``) from the table, so memory need not grow with the
matrix (15 GB at 10M x 384 would not fit the laptops polyseek is for). A table whose
vectors fit :attr:`~polyseek.store.lancedb.LanceStore.RESIDENT_VECTOR_BYTES` (2 GiB, about
1.4M x 384) keeps them in memory instead: the same number of candidates is taken from the
index without the refine and re-scored exactly in memory, by row id, cheaper than reading
every candidate's row from disk. Above it, search is memory-flat: the few rows hybrid
fusion needs besides are read by id (``LanceStore.vectors_of``).

* up to :data:`PQ_MIN_ROWS`: IVF_HNSW_SQ (8-bit scalar quantisation, an HNSW graph per
  partition): measured here at 100k MiniLM vectors ~5 ms at recall@10 ~0.97, at 1M
  (benchmarks/scale.py, idle machine) raw LanceDB 9-10 ms at 0.98, built in 187 s;
* above: IVF_PQ (``dim / 8`` sub-vectors of 8 bits: 48 bytes a row at 384-d), cheaper to
  build and 8x smaller than SQ, with a larger refine to win back the recall PQ loses.

The IVF_PQ rule is reasoned from the 1M point, not measured: :func:`measure_recall`
measures what an index gives on the table's own rows after every build (the exact answers
of all its queries in one scan of the table), and ``polyseek status`` reports it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ANN_MIN_ROWS = 50_000
PQ_MIN_ROWS = 2_000_000
RECALL_QUERIES = 50  # rows of the table used as queries when measuring recall


@dataclass(frozen=True)
class AnnPlan:
    """An index type and its parameters for a table of ``rows`` vectors of ``dim``."""

    index_type: str
    rows: int
    num_partitions: int
    nprobes: int
    refine_factor: int
    num_sub_vectors: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def index_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of LanceDB's ``Table.create_index``."""
        kwargs: dict[str, Any] = {
            "vector_column_name": "vector",
            "index_type": self.index_type,
            "metric": "cosine",
            "num_partitions": self.num_partitions,
            "replace": True,
        }
        if self.num_sub_vectors is not None:
            kwargs["num_sub_vectors"] = self.num_sub_vectors
        return kwargs


def plan_for(rows: int, dim: int, force: bool = False) -> AnnPlan | None:
    """The index a table of this size should have (None: stay exact, unless ``force``)."""
    if rows < ANN_MIN_ROWS and not force:
        return None
    if rows < PQ_MIN_ROWS:
        partitions = max(16, int(math.sqrt(rows)))  # LanceDB's own default for HNSW_SQ
        return AnnPlan("IVF_HNSW_SQ", rows, partitions, nprobes=20, refine_factor=5)
    sub = max(1, dim // 8)
    while dim % sub:
        sub -= 1
    partitions = max(256, rows // 4096)  # ~4k rows a partition: ~2.4k lists at 10M
    nprobes = max(20, partitions // 64)
    return AnnPlan("IVF_PQ", rows, partitions, nprobes, refine_factor=20, num_sub_vectors=sub)


def measure_recall(table: Any, plan: AnnPlan, k: int = 10, n: int = RECALL_QUERIES) -> float:
    """recall@k of the index against exhaustive search, on rows of the table as queries.

    The exhaustive answers of all ``n`` queries come from one scan of the table
    (:func:`exact_top`), not from one LanceDB exhaustive query each: 50 scans of a 10M-row
    table (15 GB of float32) took minutes of a build."""
    total = table.count_rows()
    if total == 0:
        return 1.0
    rng = np.random.default_rng(0)
    picks = sorted(rng.choice(total, size=min(n, total), replace=False).tolist())
    column = table.take_offsets(picks).select(["vector"]).to_arrow().column("vector")
    queries = np.asarray(column.to_numpy(zero_copy_only=False).tolist(), dtype=np.float32)
    exact = exact_top(table, queries, k)
    found = wanted = 0
    for q, want in zip(queries, exact, strict=True):
        ann = _ids(
            table.search(q)
            .distance_type("cosine")
            .nprobes(plan.nprobes)
            .refine_factor(plan.refine_factor)
            .limit(k)
        )
        found += len(set(ann) & want)
        wanted += len(want)
    return found / max(1, wanted)


def exact_top(table: Any, queries: np.ndarray, k: int, batch: int = 65_536) -> list[set[str]]:
    """The ids of each query's exact top ``k`` rows by cosine, in one scan of the table's
    ``id`` and ``vector`` columns (``batch`` rows in memory at a time)."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), "", dtype=object)
    for part in table.to_lance().to_batches(columns=["id", "vector"], batch_size=batch):
        if part.num_rows == 0:
            continue
        flat = part.column("vector").flatten().to_numpy(zero_copy_only=False)
        rows = np.asarray(flat, dtype=np.float32).reshape(part.num_rows, -1)
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        ids = np.asarray(part.column("id").to_pylist(), dtype=object)
        scores = np.concatenate([best_s, q @ rows.T], axis=1)
        names = np.concatenate([best_i, np.broadcast_to(ids, (len(q), len(ids)))], axis=1)
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_s = np.take_along_axis(scores, top, 1)
        best_i = np.take_along_axis(names, top, 1)
    return [
        {str(i) for i, s in zip(ids, ss, strict=True) if s > -np.inf}
        for ids, ss in zip(best_i, best_s, strict=True)
    ]


def _ids(query: Any) -> list[str]:
    return [str(x) for x in query.select(["id", "_distance"]).to_arrow().column("id").to_pylist()]


__all__ = ["ANN_MIN_ROWS", "PQ_MIN_ROWS", "AnnPlan", "exact_top", "measure_recall", "plan_for"]
