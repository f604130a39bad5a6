"""Which on-disk ANN index a vector table gets, tuned by its size, and the recall it gives.

Below :data:`ANN_MIN_ROWS` rows search stays exact (an in-memory float32 matrix: a few ms
at 100k x 384). Above, LanceDB indexes the table on disk and the exact path is no longer
needed: a query reads its probed partitions and re-scores the head of the candidates at
full precision (``refine_factor``) from the table, so memory need not grow with the
matrix (15 GB at 10M x 384 would not fit the laptops polyseek is for). A table whose
vectors fit :attr:`~polyseek.store.lancedb.LanceStore.RESIDENT_VECTOR_BYTES` (2 GiB, about
1.4M x 384) keeps them in memory instead: the same number of candidates is taken from the
index without the refine and re-scored exactly in memory, by row id, cheaper than reading
every candidate's row from disk. Above it, a dense search is memory-flat; hybrid search
still loads the matrix to score the BM25 candidates densely (not yet flat at 10M).

* up to :data:`PQ_MIN_ROWS`: IVF_HNSW_SQ (8-bit scalar quantisation, an HNSW graph per
  partition): measured here at 100k MiniLM vectors ~5 ms at recall@10 ~0.97, at 1M
  18.5 ms at 0.94 (raw LanceDB, 30 min to build on this 2-core machine);
* above: IVF_PQ (``dim / 8`` sub-vectors of 8 bits: 48 bytes a row at 384-d), cheaper to
  build and 8x smaller than SQ, with a larger refine to win back the recall PQ loses.

The rule's thresholds above 200k rows are reasoned, not measured on this machine (the
10M benchmark was out of reach): :func:`measure_recall` measures what an index gives on
the table's own rows after every build, and ``polyseek status`` reports it.
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
    """recall@k of the index against LanceDB's exhaustive scan, on rows of the table."""
    total = table.count_rows()
    if total == 0:
        return 1.0
    rng = np.random.default_rng(0)
    picks = sorted(rng.choice(total, size=min(n, total), replace=False).tolist())
    queries = table.take_offsets(picks).select(["vector"]).to_arrow().column("vector")
    found = wanted = 0
    for q in queries.to_numpy(zero_copy_only=False):
        q = np.asarray(q, dtype=np.float32)
        ann = _ids(
            table.search(q)
            .distance_type("cosine")
            .nprobes(plan.nprobes)
            .refine_factor(plan.refine_factor)
            .limit(k)
        )
        exact = set(_ids(table.search(q).distance_type("cosine").bypass_vector_index().limit(k)))
        found += len(set(ann) & exact)
        wanted += len(exact)
    return found / max(1, wanted)


def _ids(query: Any) -> list[str]:
    return [str(x) for x in query.select(["id", "_distance"]).to_arrow().column("id").to_pylist()]


__all__ = ["ANN_MIN_ROWS", "PQ_MIN_ROWS", "AnnPlan", "measure_recall", "plan_for"]
