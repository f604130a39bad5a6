"""Full-text and vector indexes built by Ray tasks (lance-ray) answer like the ones one
process builds, take in new rows as a new segment without rewriting the old ones, and a
failed build leaves the table searchable."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from polyseek.store.ann import plan_for
from polyseek.store.distributed_index import (
    TEXT_INDEX_NAME,
    VECTOR_INDEX_NAME,
    RayIndexBuilder,
    append_new_rows,
    segments,
)

ray = pytest.importorskip("ray")
pytest.importorskip("lance_ray")
lancedb = pytest.importorskip("lancedb")
pytestmark = [
    pytest.mark.slow,
    # ray.init forks its raylet after lance is imported; lance only warns about it.
    pytest.mark.filterwarnings("ignore:lance is not fork-safe"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

WORDS = [f"w{i}" for i in range(300)]
DIM = 16


def _rows(n: int, start: int, seed: int) -> pa.Table:
    rnd = random.Random(seed)
    vec = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return pa.table(
        {
            "id": [str(start + i) for i in range(n)],
            "text": [" ".join(rnd.choices(WORDS, k=rnd.randint(3, 40))) for _ in range(n)],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), DIM),
        }
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _tables(tmp: Path) -> tuple[Any, Any]:
    db = lancedb.connect(str(tmp / "db"))
    dist = db.create_table("dist", _rows(500, 0, 0))
    for k in range(3):  # four fragments: two segments of two
        dist.add(_rows(500, 500 * (k + 1), k + 1))
    local = db.create_table("local", dist.to_arrow())
    return dist, local


def _fts(table: Any, query: str) -> tuple[list[float], list[tuple[float, str]]]:
    """The top-10 BM25 scores, and the (score, id) of the rows scored above rank 10's."""
    t = table.to_lance().to_table(
        columns=["id", "_score"], full_text_query={"query": query, "columns": ["text"]}, limit=40
    )
    found = sorted((-round(float(s), 4), str(i)) for i, s in zip(t["id"], t["_score"], strict=True))
    cut = found[9][0] if len(found) >= 10 else None  # ties at rank 10 may come in any order
    return [-s for s, _ in found[:10]], [r for r in found if cut is None or r[0] < cut]


def _knn(table: Any, q: np.ndarray, nprobes: int) -> list[str]:
    hits = table.search(q).distance_type("cosine").nprobes(nprobes).refine_factor(5).limit(10)
    return [str(x) for x in hits.to_arrow().column("id").to_pylist()]


def test_distributed_indexes_answer_like_local_ones(tmp_path: Path, cluster: None) -> None:
    dist, local = _tables(tmp_path)
    builder = RayIndexBuilder(workers=2)
    builder.text_index(str(dist.uri), None, "text")
    dist.checkout_latest()  # the build committed a version this handle has not seen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local.create_fts_index("text", replace=True, with_position=False)
    assert len(segments(dist.to_lance(), TEXT_INDEX_NAME)) == 1  # see RayIndexBuilder
    queries = [f"{WORDS[i]} {WORDS[(7 * i + 3) % 300]}" for i in range(20)]
    for q in queries:
        assert _fts(dist, q) == _fts(local, q), q
        assert len(_fts(dist, q)[0]) == 10

    plan = plan_for(dist.count_rows(), DIM, force=True)
    assert plan is not None
    builder.vector_index(str(dist.uri), None, plan)
    dist.checkout_latest()
    local.create_index(**plan.index_kwargs())
    rng = np.random.default_rng(9)
    for q in rng.normal(size=(20, DIM)).astype(np.float32):
        exact = [
            str(x)
            for x in local.search(q)
            .distance_type("cosine")
            .bypass_vector_index()
            .limit(10)
            .to_arrow()
            .column("id")
            .to_pylist()
        ]
        # Every partition probed: both indexes give the exhaustive top-10.
        assert _knn(dist, q, plan.num_partitions) == exact
        assert _knn(local, q, plan.num_partitions) == exact


def test_new_rows_get_a_segment_of_their_own(tmp_path: Path, cluster: None) -> None:
    dist, _ = _tables(tmp_path)
    builder = RayIndexBuilder(workers=2)
    builder.text_index(str(dist.uri), None, "text")
    dist.checkout_latest()  # the build committed a version this handle has not seen
    plan = plan_for(dist.count_rows(), DIM, force=True)
    assert plan is not None
    builder.vector_index(str(dist.uri), None, plan)
    dist.checkout_latest()
    ds = dist.to_lance()
    old = {n: segments(ds, n) for n in (TEXT_INDEX_NAME, VECTOR_INDEX_NAME)}
    dist.add(_rows(20, 9000, 99))
    ds = dist.to_lance()
    assert ds.stats.index_stats(TEXT_INDEX_NAME)["num_unindexed_rows"] == 20
    append_new_rows(ds, [TEXT_INDEX_NAME, VECTOR_INDEX_NAME])
    dist.checkout_latest()
    ds = dist.to_lance()
    for name, before in old.items():
        assert ds.stats.index_stats(name)["num_unindexed_rows"] == 0
        after = segments(ds, name)
        assert {u: f for u, f in after.items() if u in before} == before  # untouched
        assert len(after) == len(before) + 1
    new_text = _rows(20, 9000, 99)["text"][0].as_py().split()[0]
    hits = ds.to_table(columns=["id"], full_text_query={"query": new_text, "columns": ["text"]})
    assert any(int(i) >= 9000 for i in hits["id"].to_pylist())


def test_a_failed_build_leaves_the_table_searchable(tmp_path: Path, cluster: None) -> None:
    dist, _ = _tables(tmp_path)
    with pytest.raises(TypeError):  # the tasks fail: a column that is not text
        RayIndexBuilder(workers=2).text_index(str(dist.uri), None, "vector")
    dist.checkout_latest()
    assert not segments(dist.to_lance(), TEXT_INDEX_NAME)
    q = np.zeros(DIM, np.float32) + 0.1
    assert len(dist.search(q).distance_type("cosine").limit(10).to_arrow()) == 10
    RayIndexBuilder(workers=2).text_index(str(dist.uri), None, "text")  # the re-run
    dist.checkout_latest()
    assert len(segments(dist.to_lance(), TEXT_INDEX_NAME)) == 1


def test_the_store_builds_and_appends_through_the_hook(tmp_path: Path, cluster: None) -> None:
    """A store with a Ray index builder (what ``RayExecutor`` sets) builds its full-text
    index on the cluster, then takes in a later file without a rebuild from scratch (the
    run's compaction merges this tiny table's fragments, and with them its segments)."""
    import lance

    from polyseek.engine import Engine
    from polyseek.store.lancedb import LanceStore

    root = tmp_path / "docs"
    root.mkdir()
    for i in range(12):
        (root / f"d{i}.txt").write_text(f"note {i} about {WORDS[i]} and {WORDS[i + 1]}\n")
    engine = Engine.open(root, store=tmp_path / "store", create=True)
    store = engine.store
    assert isinstance(store, LanceStore)
    store.index_builder = RayIndexBuilder(workers=2, text=True)
    engine.index()
    uri = str(store.lance_table("items").uri)
    before = segments(lance.dataset(uri), TEXT_INDEX_NAME)
    assert before and store.unindexed_text_rows() == 0
    (root / "late.txt").write_text("a late note about zymurgy\n")
    assert engine.index().added == 1
    assert segments(lance.dataset(uri), TEXT_INDEX_NAME)
    assert store.unindexed_text_rows() == 0
    hits = store.search_text("zymurgy", 5)
    assert [i for i, _ in hits] and all(
        it.source.endswith("late.txt") for it in store.get_items([i for i, _ in hits]).values()
    )
