"""A store filled with hand-made items and vectors, for ranking tests (no encoder needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator, Modality, item_id

DIM = 4
ENC = EncoderInfo(spec="test:enc", kind="text", revision="r1", dim=DIM)


def make_store(path: Path) -> LanceStore:
    return LanceStore.create(path, Manifest((ENC,), collection_root=str(path.parent)))


def add_items(
    store: LanceStore,
    rows: Sequence[tuple[str, Modality, str, Sequence[float]]],
    gen: str = "g1",
    commit: bool = True,
) -> list[str]:
    """Add (source, modality, text, vector) rows, one item per source; return item ids.

    ``commit=False`` writes the rows without the source records: an unfinished write,
    whose rows must stay invisible.
    """
    batch = SourceBatch()
    for source, modality, text, _ in rows:
        batch.records.append(SourceRecord(source, "h", 1, 1, gen, "ok", n_items=1))
        batch.items.append(
            StoredItem(item_id(source, Locator()), source, gen, modality, Locator(), text, {})
        )
    vectors = l2_normalize(np.array([r[3] for r in rows], dtype=np.float32))
    batch.vectors[ENC.key] = ([it.id for it in batch.items], vectors)
    if commit:
        store.commit(batch)
    else:
        store.stage(batch)
    return [it.id for it in batch.items]
