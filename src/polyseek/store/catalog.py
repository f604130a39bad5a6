"""The light columns of the visible items, in memory: item lookups without a filtered scan.

A search reads the stored items of its top hits. Through LanceDB that is a filtered read,
``id IN (...)``, about as slow as the vector query itself (benchmarks/query_latency.py).
An :class:`ItemCatalog` holds, for one (items, sources) table version, every visible
item's columns but its text (id, source, generation, modality, locator, metadata, preview,
passages), its LanceDB row id and its offset in the table at that version, sorted by id. A
lookup is a binary search in memory; the texts (the bulk of the table, kept out of memory)
are then taken by offset (Lance's public ``take``), one read of the hits' rows only.

The catalog is read from a handle on the items table checked out at its version, and
the texts are taken through the same handle, so its row ids always name its rows; each
row id the read does not return is looked up the slow way.

Memory is bounded: a catalog larger than :data:`MAX_BYTES` is not kept (lookups stay
filtered reads), and a catalog is built only once a version has been asked for twice (a
one-shot command pays nothing; a server builds it on its second query).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from polyseek.store.base import StoredItem

logger = logging.getLogger(__name__)

LIGHT_COLUMNS = ("id", "source", "gen", "modality", "locator", "metadata", "preview", "passages")
ROW_ID = "_rowid"
OFFSET = "_offset"  # a row's position in a scan of its version: what Lance's take() reads
MAX_BYTES = 512 * 2**20  # ~100 bytes an item: about 4M items


@dataclass(frozen=True)
class ItemCatalog:
    """Visible items' light columns and row ids at one ``version``, sorted by id."""

    version: tuple[int, ...]
    table: pa.Table  # light columns + ROW_ID + OFFSET, visible rows only, sorted by id
    keys: np.ndarray  # the ids as UTF-8 bytes (numpy "S"), in the same order
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls, version: tuple[int, ...], rows: pa.Table, committed: dict[str, str]
    ) -> ItemCatalog | None:
        """The catalog of ``rows`` (light columns and row ids of every item row, a whole
        scan of one version in its order) whose generation ``committed`` names; None when
        it would take more than MAX_BYTES."""
        rows = rows.append_column(OFFSET, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
        sources, gens = rows.column("source").to_pylist(), rows.column("gen").to_pylist()
        mask = np.fromiter(
            (committed.get(s) == g for s, g in zip(sources, gens, strict=True)),
            dtype=bool,
            count=rows.num_rows,
        )
        table = rows.filter(pa.array(mask, pa.bool_()))
        table = table.take(pc.sort_indices(table, sort_keys=[("id", "ascending")]))
        table = table.combine_chunks()
        keys = np.array([i.encode() for i in table.column("id").to_pylist()], dtype=np.bytes_)
        size = table.nbytes + keys.nbytes
        if size > MAX_BYTES:
            logger.info("item catalog of %d items too large (%d bytes): not kept", len(keys), size)
            return None
        return cls(version, table, keys)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, ids: Sequence[str]) -> dict[str, int]:
        """id -> catalog row of each id that is a visible item."""
        if not len(self.keys) or not ids:
            return {}
        wanted = [i.encode() for i in ids]
        width = self.keys.dtype.itemsize
        # Longer ids than any stored one cannot be stored (and would be cut by numpy).
        probe = np.array([w if len(w) <= width else b"" for w in wanted], dtype=self.keys.dtype)
        pos = np.minimum(np.searchsorted(self.keys, probe), len(self.keys) - 1)
        return {
            i: int(p)
            for i, w, p in zip(ids, wanted, pos.tolist(), strict=True)
            if len(w) <= width and self.keys[p] == w and w
        }

    def at_row_ids(self, row_ids: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
        """(id, score) of the rows with these LanceDB row ids that the catalog holds (the
        visible ones), in the order given."""
        found = self._derived.get("by-row-id")
        if found is None:
            column = self.table.column(ROW_ID).to_numpy()
            order = np.argsort(column, kind="stable")
            found = self._derived["by-row-id"] = (order, column[order])
        order, ordered = found
        if not len(order) or not len(row_ids):
            return []
        wanted = np.asarray(row_ids, dtype=ordered.dtype)
        pos = np.minimum(np.searchsorted(ordered, wanted), len(order) - 1)
        hit = ordered[pos] == wanted
        ids = self.table.column("id").take(pa.array(order[pos[hit]])).to_pylist()
        return list(zip(ids, np.asarray(scores, dtype=np.float64)[hit].tolist(), strict=True))

    def row_ids(self, rows: Sequence[int]) -> list[int]:
        """LanceDB row ids of catalog rows."""
        column = self.table.column(ROW_ID)
        return [int(column[r].as_py()) for r in rows]

    def offsets(self, rows: Sequence[int]) -> list[int]:
        """Offsets in the catalog's version of the table of catalog rows."""
        return self.table.column(OFFSET).take(pa.array(rows, pa.int64())).to_pylist()

    def items(self, rows: dict[str, int], texts: dict[int, str]) -> dict[str, StoredItem]:
        """StoredItems of catalog ``rows`` (id -> row) whose text ``texts`` holds, by row
        id; the others are left out."""
        if not rows:
            return {}
        out: dict[str, StoredItem] = {}
        picked = self.table.take(pa.array(list(rows.values()), pa.int64()))
        for row in picked.to_pylist():
            row.pop(OFFSET)
            text = texts.get(row.pop(ROW_ID))
            if text is not None:
                out[row["id"]] = StoredItem.from_row({**row, "text": text})
        return out


__all__ = ["LIGHT_COLUMNS", "MAX_BYTES", "OFFSET", "ROW_ID", "ItemCatalog"]
