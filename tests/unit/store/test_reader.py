"""Reads through Lance (:mod:`polyseek.store.reader`) answer as LanceDB does on the same
tables: BM25 scores and row ids, versions, pinned handles; a store opened for reading
does not import LanceDB's package; a damaged table is named when the store opens."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import lancedb
import numpy as np
import pytest

from polyseek.encoders.base import EncoderInfo
from polyseek.errors import DamagedIndexError
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.store.reader import TableReader
from polyseek.types import Locator
from tests.helpers.damage import newest_manifest, truncate

DIM = 8
ENC = EncoderInfo(spec="test:reader", kind="text", revision="r1", dim=DIM)
WORDS = ("pump housing", "torque bolts", "exploded view", "contrastive image text", "gasket")


def _batch(source: str, n: int, rng: np.random.Generator) -> SourceBatch:
    items = [
        StoredItem(
            id=f"{source}#{k}",
            source=source,
            gen="g1",
            modality="text",
            locator=Locator(char_start=0, char_end=10),
            text=" ".join(WORDS[(k + j) % len(WORDS)] for j in range(k % 3 + 1)),
            metadata={},
        )
        for k in range(n)
    ]
    record = SourceRecord(source, "h", 1, 1, "g1", "ok", n_items=n, indexed_at=0.0)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    return SourceBatch([record], items, {ENC.key: ([it.id for it in items], vectors)})


@pytest.fixture
def store(tmp_path: Path) -> LanceStore:
    s = LanceStore.create(tmp_path / "s", Manifest((ENC,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(0)
    for f in range(3):
        s.commit(_batch(f"f{f}.txt", 12, rng))
    s.ensure_text_index()
    return s


def test_bm25_matches_lancedb_scores_and_row_ids(store):
    db = lancedb.connect(str(store.path / "db"))
    reader = TableReader(str(store.path / "db"), store.path)
    for query in ("pump housing", "contrastive text", "gasket bolts torque"):
        theirs = (
            db.open_table("items")
            .search(query, query_type="fts", fts_columns="text")
            .limit(20)
            .select(["id", "_score"])
            .with_row_id(True)
            .to_arrow()
        )
        ours = reader.latest("items").to_table(
            columns=["id", "_score"],
            full_text_query={"query": query, "columns": ["text"]},
            limit=20,
            with_row_id=True,
        )
        assert theirs.num_rows > 0
        for column in ("id", "_score", "_rowid"):
            assert ours[column].to_pylist() == theirs[column].to_pylist(), (query, column)
        assert store.search_text(query, 20)  # the store's own path answers too


def test_versions_and_pinned_handles_follow_writes(store):
    reader = TableReader(str(store.path / "db"), store.path)
    before = reader.latest_version("sources")
    pinned = reader.at("sources", before)
    store.commit(_batch("late.txt", 2, np.random.default_rng(1)))
    assert reader.latest_version("sources") == before + 1  # never cached
    assert pinned.count_rows() == 3  # still that version's rows
    assert reader.latest("sources").count_rows() == 4
    assert sorted(store.sources()) == ["f0.txt", "f1.txt", "f2.txt", "late.txt"]


def test_index_listing_names_the_full_text_index(store):
    reader = TableReader(str(store.path / "db"), store.path)
    assert ("Inverted", ("text",)) in reader.indexes("items")
    assert store.has_text_index()
    assert not store.has_ann_index(ENC.key)


def test_reads_do_not_import_lancedb(store):
    probe = f"""
import json, sys
from polyseek.store.lancedb import LanceStore
s = LanceStore.open({str(store.path)!r})
found = s.search_text("pump housing", 5)
view = s.vectors({ENC.key!r})
print(json.dumps([len(found), len(view.ids), s.counts(), "lancedb" in sys.modules]))
"""
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    n_found, n_vectors, counts, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert n_found > 0 and n_vectors == 36 and counts == {"text": 36}
    assert imported is False


def test_a_damaged_table_is_named_when_the_store_opens(store):
    truncate(newest_manifest(store.path, "vectors"), random.Random(0))
    with pytest.raises(DamagedIndexError) as exc:
        LanceStore.open(store.path)
    assert ENC.key in exc.value.message
