"""Vector rows written as Lance data fragments by other processes (Ray embedding actors),
committed by the one writer that holds the store's lock.

A worker gets a picklable :class:`FragmentTarget` (the table's dataset URI, its schema,
storage options), turns the rows it embedded into an Arrow table with
:func:`vector_rows` (the same rows :class:`~polyseek.store.lancedb.LanceStore` stages
itself) and writes them with :func:`write_fragments`: data files next to the table's, in
no manifest, so nobody sees them. It sends back the fragments' metadata (JSON, small);
the driver appends them with one ``LanceOperation.Append`` per batch and table
(:meth:`~polyseek.store.lancedb.LanceStore.append_fragments`), which makes them staged
rows like any other: invisible until the source records naming their generation are
committed, deleted by ``recover`` if that never happens. Files of a worker that dies
before the append are in no manifest, so never read; Lance's version clean-up (which
``LanceStore.compact`` runs) deletes such unreferenced files once they are 7 days old.

Needs ``pylance`` (``pip install 'polyseek[ray]'``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from polyseek.errors import MissingDependencyError, StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FragmentTarget:
    """Where and how a worker writes fragments of one vector table."""

    table: str  # the encoder key, for messages
    uri: str  # the table's Lance dataset
    schema: pa.Schema  # the table's columns (an index made before a column was added lacks it)
    dim: int
    storage_options: dict[str, str] | None = None
    data_storage_version: str | None = None


@dataclass(frozen=True)
class RowOwner:
    """What a vector row records about its item besides the vector."""

    id: str
    source: str
    gen: str
    modality: str


def vector_rows(
    dim: int, schema: pa.Schema, owners: Sequence[RowOwner], vectors: np.ndarray, spec: str
) -> pa.Table:
    """The rows of a vector table for ``vectors``, one per owner, in ``schema``'s columns.

    Rows of one item are numbered in the order given: passage k (or keyframe k)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape != (len(owners), dim):
        raise StoreError(f"{spec}: got vectors of shape {vectors.shape}, want dim {dim}")
    seen: dict[str, int] = {}
    parts = []
    for it in owners:
        parts.append(seen.get(it.id, 0))
        seen[it.id] = parts[-1] + 1
    columns = {
        "id": [it.id for it in owners],
        "source": [it.source for it in owners],
        "gen": [it.gen for it in owners],
        "modality": [it.modality for it in owners],
        "part": pa.array(parts, pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), dim),
    }
    return pa.table({k: columns[k] for k in schema.names}, schema=schema)


def import_lance() -> Any:
    try:
        import lance
    except ImportError as exc:
        raise MissingDependencyError(
            "writing Lance fragments from workers needs pylance",
            hint="pip install 'polyseek[ray]'",
        ) from exc
    return lance


def write_fragments(target: FragmentTarget, rows: pa.Table) -> list[str]:
    """Write ``rows`` as data fragments of ``target`` (in no manifest yet); their metadata
    as JSON, for :meth:`LanceStore.append_fragments`."""
    if rows.num_rows == 0:
        return []
    lance = import_lance()
    frags = lance.fragment.write_fragments(
        rows,
        target.uri,
        schema=target.schema,
        mode="append",
        storage_options=target.storage_options or None,
        data_storage_version=target.data_storage_version,
    )
    logger.debug("%s: wrote %d rows as %d fragments", target.table, rows.num_rows, len(frags))
    return [json.dumps(f.to_json()) for f in frags]


def fragments_from_json(fragments: Sequence[str]) -> list[Any]:
    """The ``FragmentMetadata`` of :func:`write_fragments`' JSON."""
    lance = import_lance()
    return [lance.fragment.FragmentMetadata.from_json(j) for j in fragments]


__all__ = [
    "FragmentTarget",
    "RowOwner",
    "fragments_from_json",
    "import_lance",
    "vector_rows",
    "write_fragments",
]
