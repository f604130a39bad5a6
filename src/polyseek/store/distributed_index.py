"""Full-text and vector indexes of large tables built on a Ray cluster, and kept up to date
by appending a segment for new rows instead of rebuilding.

Built with lance-ray's distributed builders (``lance_ray.create_scalar_index`` /
``create_index``, the ``ray`` extra): the table's fragments are split into groups, each
Ray task builds an index *segment* over its group (``create_index_uncommitted`` with
``fragment_ids``), and the driver commits the segments as one index
(``commit_existing_index_segments``). The vector index's IVF centroids (and PQ codebook)
are trained once on the driver and shared by every segment, so a query probes the same
partitions as with a single-process build. The full-text index keeps LanceDB's tokenizer
defaults (``with_position=False``, the parameters :meth:`LanceStore.ensure_text_index`
builds with) and is built as one segment, by one Ray task: Lance scores BM25 per segment
(each segment's document-length statistics), so several segments rank documents of
varied length differently from a local build. A delta segment for new rows has the same
small effect (4th decimal of the scores), the price of not rebuilding.

Small additions do not rebuild anything, locally or on a cluster: :func:`append_new_rows`
calls Lance's ``optimize_indices(num_indices_to_merge=0)``, which indexes only the
fragments no segment covers and adds them as one new segment; the old segments (their
uuids and fragment bitmaps) stay as they were.

A build that fails (a task past its retries, the cluster gone) commits nothing: the table
keeps its previous index (or none: search then reads the unindexed rows exhaustively),
and the next run builds again.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyseek.errors import ConfigError

if TYPE_CHECKING:
    from polyseek.store.ann import AnnPlan

logger = logging.getLogger(__name__)

TEXT_INDEX_NAME = "text_idx"  # LanceDB's name for the index of column "text"
VECTOR_INDEX_NAME = "vector_idx"
SAMPLE_RATE = 256  # Lance's default training rows per IVF partition


def _lance_ray() -> Any:
    if importlib.util.find_spec("lance_ray") is None:
        raise ConfigError(
            "distributed index builds need lance-ray", hint="pip install 'polyseek[ray]'"
        )
    import lance_ray

    return lance_ray


def available() -> bool:
    """Whether lance-ray (and so the distributed builders) can be imported."""
    return importlib.util.find_spec("lance_ray") is not None


@dataclass(frozen=True)
class RayIndexBuilder:
    """Builds a table's indexes with Ray tasks on the connected cluster (``workers`` tasks
    at once, one index segment each)."""

    workers: int = 2
    text: bool = False
    """Full-text index on Ray too. Off by default: with it, test_ray_ingest's Ray index
    ranked one query differently from the local index (cause not found yet)."""

    def text_index(self, uri: str, storage_options: dict[str, str] | None, column: str) -> None:
        lance_ray = _lance_ray()
        lance_ray.create_scalar_index(
            uri,
            column=column,
            index_type="INVERTED",
            name=TEXT_INDEX_NAME,
            replace=True,
            # One segment: BM25 over several segments scores with each segment's own
            # statistics (documents of varied length rank differently from a local build,
            # tests/integration/test_ray_ingest.py), so the text index is built by one
            # Ray task until Lance scores segments with global statistics.
            num_workers=1,
            num_segments=1,
            storage_options=storage_options or None,
            with_position=False,
        )
        logger.info("built the full-text index of %s on Ray", uri)

    def vector_index(self, uri: str, storage_options: dict[str, str] | None, plan: AnnPlan) -> None:
        lance_ray = _lance_ray()
        # A small table has fewer rows than Lance's default sample of 256 per partition.
        sample_rate = max(2, min(SAMPLE_RATE, plan.rows // max(1, plan.num_partitions)))
        lance_ray.create_index(
            uri,
            column="vector",
            index_type=plan.index_type,
            name=VECTOR_INDEX_NAME,
            replace=True,
            num_workers=self.workers,
            storage_options=storage_options or None,
            metric="cosine",
            num_partitions=plan.num_partitions,
            num_sub_vectors=plan.num_sub_vectors,
            sample_rate=sample_rate,
        )
        logger.info("built the %s index of %s on Ray", plan.index_type, uri)


def append_new_rows(dataset: Any, index_names: list[str]) -> None:
    """Index the rows no segment of these indexes covers, as one new segment each (the
    existing segments are neither read nor rewritten)."""
    dataset.optimize.optimize_indices(index_names=index_names, num_indices_to_merge=0)


def segments(dataset: Any, name: str) -> dict[str, set[int]]:
    """Segment uuid -> the fragment ids it covers, for one index of a Lance dataset."""
    return {
        str(ix["uuid"]): set(ix["fragment_ids"])
        for ix in dataset.list_indices()
        if ix["name"] == name
    }


__all__ = ["RayIndexBuilder", "append_new_rows", "available", "segments"]
