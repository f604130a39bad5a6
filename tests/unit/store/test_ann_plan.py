"""The ANN index chosen by table size, built for real on a small table, its recall
measured against LanceDB's exhaustive scan and reported by status."""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import EncoderInfo
from polyseek.store.ann import ANN_MIN_ROWS, PQ_MIN_ROWS, plan_for
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.types import Locator


def test_plan_by_size():
    assert plan_for(ANN_MIN_ROWS - 1, 384) is None  # small: exact in memory
    mid = plan_for(1_000_000, 384)
    assert mid is not None and mid.index_type == "IVF_HNSW_SQ" and mid.num_partitions == 1000
    big = plan_for(10_000_000, 384)
    assert big is not None and big.index_type == "IVF_PQ"
    assert big.num_sub_vectors == 48 and 384 % big.num_sub_vectors == 0
    assert big.refine_factor > mid.refine_factor  # PQ loses more: re-score a longer head
    assert plan_for(PQ_MIN_ROWS, 100).num_sub_vectors == 10  # divides the dimension


def _store(tmp_path, n: int, dim: int = 32) -> LanceStore:
    info = EncoderInfo(spec="test:clusters", kind="text", revision="r1", dim=dim)
    store = LanceStore.create(tmp_path / "s", Manifest((info,), collection_root=str(tmp_path)))
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, dim))  # structured vectors: ANN is meaningful on them
    vectors = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [
        StoredItem(
            id=f"i{k:05d}",
            source="a.txt",
            gen="g",
            modality="text",
            locator=Locator(),
            text="x",
            metadata={},
        )
        for k in range(n)
    ]
    batch = SourceBatch(
        records=[
            SourceRecord(
                path="a.txt",
                content_hash="h",
                size=1,
                mtime_ns=1,
                gen="g",
                status="ok",
                n_items=n,
                indexed_at=0.0,
            )
        ],
        items=items,
        vectors={info.key: ([it.id for it in items], vectors.astype(np.float32))},
    )
    store.commit(batch)
    return store


def test_built_index_reports_measured_recall(tmp_path):
    store = _store(tmp_path, 3000)
    key = store.manifest.encoders[0].key
    plan = store.build_ann_index(key)
    assert plan.index_type == "IVF_HNSW_SQ"
    report = store.ann_report()[key]
    assert report["index_type"] == "IVF_HNSW_SQ" and report["rows"] == 3000
    assert 0.8 <= report["recall_at_10"] <= 1.0
    assert store.has_ann_index(key)
    q = store.vectors(key).matrix[:3]
    ann = store.search_vectors(key, q, 10)
    exact = store.search_vectors(key, q, 10, exact=True)
    assert [r[0][0] for r in ann] == [r[0][0] for r in exact]  # a row finds itself first
    reopened = LanceStore.open(tmp_path / "s")
    assert reopened.ann_report()[key]["recall_at_10"] == report["recall_at_10"]


def test_exact_answers_of_the_recall_measure_are_lancedbs_exhaustive_ones(tmp_path):
    """measure_recall's truth, one scan for all its queries in batches smaller than the
    table, is what LanceDB's exhaustive search returns query by query."""
    from polyseek.store.ann import exact_top

    store = _store(tmp_path, 3000)
    table = store.lance_table(store.manifest.encoders[0].key)
    rng = np.random.default_rng(11)
    queries = rng.normal(size=(8, 32)).astype(np.float32)
    got = exact_top(table, queries, 10, batch=700)
    for q, found in zip(queries, got, strict=True):
        rows = table.search(q).distance_type("cosine").bypass_vector_index().limit(10)
        assert found == set(rows.select(["id"]).to_arrow().column("id").to_pylist())


def test_ann_reads_through_lance_match_lancedb(tmp_path):
    """The ANN candidates polyseek reads through Lance are those of LanceDB's own query
    on the same index and parameters: the refined read (no vectors in memory) and the
    rescored one (vectors in memory)."""
    store = _store(tmp_path, 3000)
    key = store.manifest.encoders[0].key
    plan = store.build_ann_index(key)
    rng = np.random.default_rng(7)
    queries = rng.normal(size=(12, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    table = store.lance_table(key)

    def lancedb_top(q: np.ndarray) -> list[str]:
        search = table.search(q).distance_type("cosine").nprobes(plan.nprobes)
        rows = search.refine_factor(plan.refine_factor).limit(10).select(["id"]).to_arrow()
        return rows.column("id").to_pylist()

    fresh = LanceStore.open(tmp_path / "s")
    once = fresh.search_vectors(key, queries[:1], 10)  # a version's first search
    assert key not in fresh._caches  # reads no matrix
    assert [i for i, _ in once[0]] == lancedb_top(queries[0])
    fresh.RESIDENT_VECTOR_BYTES = 0  # a table too large to keep: the refined read
    refined = fresh.search_vectors(key, queries, 10)
    assert [[i for i, _ in r] for r in refined] == [lancedb_top(q) for q in queries]
    assert key not in fresh._caches  # memory-flat: the matrix was not read
    del fresh.RESIDENT_VECTOR_BYTES  # small enough to keep: the index's head, rescored
    fresh.search_vectors(key, queries[:1], 10)  # (loaded on a version's second search)
    assert key in fresh._caches
    rescored = fresh.search_vectors(key, queries, 10)
    matrix = fresh.vectors(key).matrix
    exact = fresh.search_vectors(key, queries, 10, exact=True)
    for got, want, q in zip(rescored, exact, queries, strict=True):
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        for i, s in got:  # exact scores of the rows named
            assert abs(s - float(matrix[int(i[1:])] @ q)) < 1e-5
        assert len({i for i, _ in got} & {i for i, _ in want}) >= 7


def test_item_texts_by_offset_after_deletions(tmp_path):
    """Hits' texts are taken by their offset in the catalog's version: still the right
    rows once earlier rows are deleted (a re-indexed source)."""
    info = EncoderInfo(spec="test:clusters", kind="text", revision="r1", dim=4)
    store = LanceStore.create(tmp_path / "s", Manifest((info,), collection_root=str(tmp_path)))

    def batch(path: str, gen: str, texts: list[str]) -> SourceBatch:
        items = [
            StoredItem(f"{path}#{n}", path, gen, "text", Locator(), t, {})
            for n, t in enumerate(texts)
        ]
        vecs = np.eye(4, dtype=np.float32)[np.arange(len(items)) % 4]
        record = SourceRecord(path, gen, 1, 1, gen, "ok", n_items=len(items))
        return SourceBatch([record], items, {info.key: ([it.id for it in items], vecs)})

    store.commit(batch("a.txt", "g1", [f"a one {n}" for n in range(5)]))
    store.commit(batch("b.txt", "g1", [f"b one {n}" for n in range(5)]))
    store.commit(batch("a.txt", "g2", [f"a two {n}" for n in range(3)]))  # old rows go
    store.remove_sources(["b.txt"])
    store.commit(batch("c.txt", "g1", ["c one 0", "c one 1"]))
    ids = ["c.txt#1", "a.txt#2", "b.txt#0", "a.txt#0", "c.txt#0"]
    want = {"a.txt#0": "a two 0", "a.txt#2": "a two 2", "c.txt#0": "c one 0", "c.txt#1": "c one 1"}
    for _ in range(3):  # the first lookup reads by filter, later ones through the catalog
        got = store.get_items(ids)
        assert {i: it.text for i, it in got.items()} == want


def test_vector_modalities_without_loading_the_vectors(tmp_path):
    """Which modalities an encoder's visible rows hold is known without the float32
    matrix (a dense search over an ANN-indexed table asks it to decide on calibration)."""
    from polyseek.store.base import Store

    store = _store(tmp_path, 200)
    key = store.manifest.encoders[0].key
    info = store.manifest.encoders[0]
    pic = StoredItem("p0", "p.jpg", "g", "image", Locator(), "", {})
    record = SourceRecord("p.jpg", "h", 1, 1, "g", "ok", n_items=1)
    one = np.ones((1, info.dim), dtype=np.float32) / np.sqrt(info.dim)
    store.commit(SourceBatch([record], [pic], {key: (["p0"], one)}))
    fresh = LanceStore.open(tmp_path / "s")
    assert fresh.vector_modalities(key) == {"text", "image"}
    assert key not in fresh._caches  # the matrix was not read
    fresh.remove_sources(["p.jpg"])
    assert fresh.vector_modalities(key) == {"text"}
    assert Store.vector_modalities(fresh, key) == {"text"}  # as the loaded vectors say
