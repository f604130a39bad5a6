"""The peer every ranking benchmark compares with: LanceDB's own default hybrid search.

One LanceDB table of the same texts and the same MiniLM vectors polyseek uses, with
LanceDB's full-text index; ``hybrid`` is its default hybrid query (vector + FTS, fused by
its default RRF reranker), ``bm25`` its full-text search alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np


def lancedb_table(
    path: Path, name: str, columns: dict[str, list[Any]], texts: list[str], vectors: np.ndarray
) -> Any:
    """A table of ``columns`` plus ``text`` and ``vector``, with an FTS index on ``text``."""
    import lancedb
    import pyarrow as pa

    table = lancedb.connect(str(path)).create_table(
        name,
        pa.table(
            {
                **columns,
                "text": texts,
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel()),
                    vectors.shape[1],
                ),
            }
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.create_fts_index("text")
    return table


def hybrid(table: Any, vector: np.ndarray, text: str, limit: int) -> list[dict[str, Any]]:
    """LanceDB's default hybrid search: the rows, best first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = table.search(query_type="hybrid").vector(vector).text(text).limit(limit)
        return rows.to_arrow().to_pylist()  # type: ignore[no-any-return]


def bm25(table: Any, text: str, limit: int) -> list[dict[str, Any]]:
    """LanceDB's full-text search alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return table.search(text, query_type="fts").limit(limit).to_arrow().to_pylist()  # type: ignore[no-any-return]
