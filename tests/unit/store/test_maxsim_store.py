"""Exact MaxSim search over multi-vector items: the in-memory kernel and the store method."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.errors import QueryError
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem, VectorView
from polyseek.store.lancedb import LanceStore
from polyseek.store.maxsim import item_rows, maxsim_scores, maxsim_search
from polyseek.types import MODALITY_CODES, Locator, Modality

DIM = 8


def brute_force(rows: dict[str, np.ndarray], q: np.ndarray) -> dict[str, float]:
    """MaxSim as the definition says it, one item at a time."""
    return {i: float(sum(max(float(t @ r) for r in m) for t in q)) for i, m in rows.items()}


def ranked(scores: dict[str, float], k: int) -> list[str]:
    return sorted(scores, key=lambda i: (-scores[i], i))[:k]


def assert_same(a: list[list[tuple[str, float]]], b: list[list[tuple[str, float]]]) -> None:
    """The same ranked ids with the same scores, up to float rounding (matrix products of
    other shapes round the last bits differently)."""
    assert [[i for i, _ in row] for row in a] == [[i for i, _ in row] for row in b]
    for x, y in zip(a, b, strict=True):
        assert [s for _, s in x] == pytest.approx([s for _, s in y], abs=1e-5)


def make_items(n: int, rng: np.random.Generator, max_rows: int = 70) -> dict[str, np.ndarray]:
    return {
        f"item{i:03d}": l2_normalize(rng.normal(size=(int(rng.integers(1, max_rows)), DIM)))
        for i in range(n)
    }


def view_of(
    items: dict[str, np.ndarray],
    modality: dict[str, Modality] | None = None,
    shuffle: np.random.Generator | None = None,
) -> VectorView:
    ids = np.array([i for i, m in items.items() for _ in m], dtype=object)
    matrix = np.concatenate(list(items.values())).astype(np.float32)
    codes = np.array([MODALITY_CODES[(modality or {}).get(i, "page")] for i in ids], np.int8)
    if shuffle is not None:  # an item's rows scattered through the table
        order = shuffle.permutation(len(ids))
        ids, matrix, codes = ids[order], matrix[order], codes[order]
    return VectorView("v_test", (1, 1), ids, codes, np.ascontiguousarray(matrix))


@pytest.mark.parametrize("scattered", [False, True])
def test_scores_and_order_match_the_definition(scattered: bool) -> None:
    rng = np.random.default_rng(0)
    items = make_items(60, rng)
    view = view_of(items, shuffle=rng if scattered else None)
    assert (item_rows(view).order is not None) == scattered
    queries = [l2_normalize(rng.normal(size=(n, DIM))) for n in (1, 5, 25)]
    got = maxsim_search(view, queries, k=10)
    for q, row in zip(queries, got, strict=True):
        expected = brute_force(items, q)
        assert [i for i, _ in row] == ranked(expected, 10)
        for i, s in row:
            assert s == pytest.approx(expected[i], abs=1e-4)
    # A batch scores each query as it scores it alone.
    assert_same(got, [maxsim_search(view, [q], k=10)[0] for q in queries])
    # Candidates scored one by one (for fusion) agree with the search.
    some = [i for i, _ in got[2]] + ["nobody"]
    exact = maxsim_scores(view, queries[2], some)
    assert set(exact) == set(some) - {"nobody"}
    assert exact == pytest.approx(dict(got[2]), abs=1e-5)


def test_blocks_split_only_between_items(monkeypatch: pytest.MonkeyPatch) -> None:
    import polyseek.store.maxsim as maxsim

    rng = np.random.default_rng(3)
    items = make_items(40, rng)
    view = view_of(items)
    q = l2_normalize(rng.normal(size=(4, DIM)))
    whole = maxsim_search(view, [q], k=40)
    monkeypatch.setattr(maxsim, "MIN_BLOCK_ROWS", 1)
    monkeypatch.setattr(maxsim, "BLOCK_BYTES", 4 * 4 * 50)  # ~50 rows a block: many blocks
    assert_same(maxsim_search(view, [q], k=40), whole)


def test_matches_transformers_score_retrieval() -> None:
    import torch
    from transformers import ColPaliProcessor

    rng = np.random.default_rng(4)
    items = make_items(30, rng, max_rows=20)
    queries = [l2_normalize(rng.normal(size=(n, DIM))) for n in (3, 9)]
    # The reference ColPali scoring (it uses nothing of the processor instance), one
    # passage per call: in a batch it pads passages with zero vectors, which would lift a
    # query token whose every real match is negative to 0.
    reference = np.array(
        [
            ColPaliProcessor.score_retrieval(
                None,  # type: ignore[arg-type]
                [torch.from_numpy(q) for q in queries],
                [torch.from_numpy(m)],
            )[:, 0].numpy()
            for m in items.values()
        ]
    ).T
    got = maxsim_search(view_of(items), queries, k=30)
    for row, ref in zip(got, reference, strict=True):
        scores = dict(row)
        np.testing.assert_allclose([scores[n] for n in items], ref, atol=1e-5)


def test_ties_are_broken_by_item_id_and_k_is_respected() -> None:
    rng = np.random.default_rng(5)
    shared = l2_normalize(rng.normal(size=(3, DIM)))
    names = ["c", "a", "e", "b", "d"]
    view = view_of({n: shared for n in names})
    q = l2_normalize(rng.normal(size=(2, DIM)))
    row = maxsim_search(view, [q], k=3)[0]
    assert [i for i, _ in row] == ["a", "b", "c"]
    assert len({s for _, s in row}) == 1
    assert len(maxsim_search(view, [q], k=50)[0]) == 5
    assert maxsim_search(view, [q], k=0) == [[]]


def test_modality_filter() -> None:
    rng = np.random.default_rng(6)
    items = make_items(20, rng)
    kinds: dict[str, Modality] = {
        i: ("image" if n % 3 == 0 else "page") for n, i in enumerate(items)
    }
    view = view_of(items, kinds)
    q = l2_normalize(rng.normal(size=(4, DIM)))
    images = maxsim_search(view, [q], k=20, modalities=["image"])[0]
    assert {i for i, _ in images} == {i for i, m in kinds.items() if m == "image"}
    assert maxsim_search(view, [q], k=5, modalities=["text"]) == [[]]
    both = maxsim_search(view, [q], k=20, modalities=["image", "page"])[0]
    assert both == maxsim_search(view, [q], k=20)[0]


def test_query_shapes_and_empty_views() -> None:
    rng = np.random.default_rng(7)
    view = view_of(make_items(5, rng))
    one = l2_normalize(rng.normal(size=(1, DIM)))
    assert maxsim_search(view, [one[0]], k=3) == maxsim_search(view, [one], k=3)  # 1-D: a token
    for bad in (np.zeros((0, DIM)), np.zeros((2, DIM + 1)), np.zeros((2, 2, DIM))):
        with pytest.raises(QueryError, match="MaxSim query"):
            maxsim_search(view, [bad], k=3)
    assert maxsim_search(view, [], k=3) == []
    empty = VectorView("v", (0,), np.array([], object), np.array([], np.int8), np.zeros((0, DIM)))
    assert maxsim_search(empty, [one], k=3) == [[]]


# ------------------------------------------------------------------- through the store
LATE = EncoderInfo("test:late", "late-interaction", "r1", DIM, metric="maxsim")


def page_batch(
    source: str, pages: dict[int, np.ndarray], gen: str
) -> tuple[SourceBatch, dict[str, np.ndarray]]:
    batch = SourceBatch(records=[SourceRecord(source, "h" + gen, 1, 1, gen, "ok")])
    ids: list[str] = []
    rows: dict[str, np.ndarray] = {}
    for page, m in pages.items():
        item = StoredItem(f"{source}#{page}", source, gen, "page", Locator(page=page), "", {})
        batch.items.append(item)
        ids.extend([item.id] * len(m))
        rows[item.id] = m
    batch.vectors[LATE.key] = (ids, np.concatenate(list(pages.values())))
    return batch, rows


def test_store_searches_visible_items_only(tmp_path) -> None:
    rng = np.random.default_rng(8)
    store = LanceStore.create(tmp_path / "idx", Manifest((LATE,), str(tmp_path)))

    def pages(n: int) -> dict[int, np.ndarray]:
        return {p: l2_normalize(rng.normal(size=(int(rng.integers(5, 64)), DIM))) for p in range(n)}

    visible: dict[str, np.ndarray] = {}
    for source in ("a.pdf", "b.pdf", "c.pdf"):
        batch, rows = page_batch(source, pages(6), "g1")
        store.commit(batch)
        visible.update(rows)
    store.remove_sources(["b.pdf"])
    visible = {i: m for i, m in visible.items() if not i.startswith("b.pdf")}
    # A newer generation of a.pdf staged but never committed: invisible.
    staged, _ = page_batch("a.pdf", pages(6), "g2")
    store.stage(staged)
    queries = [l2_normalize(rng.normal(size=(n, DIM))) for n in (4, 12)]
    got = store.search_multivector(LATE.key, queries, k=8)
    for q, row in zip(queries, got, strict=True):
        expected = brute_force(visible, q)
        assert [i for i, _ in row] == ranked(expected, 8)
        assert [s for _, s in row] == pytest.approx([expected[i] for i, _ in row], abs=1e-4)
    assert store.search_multivector(LATE.key, queries, k=8, modalities=["image"]) == [[], []]


@pytest.mark.slow
def test_latency_at_10k_pages_of_64_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    """10,000 pages x 64 rows x 128 dims (312 MB), 25-token queries: correctness at scale,
    and the time printed (it depends on the machine's load; no bound asserted)."""
    dim, pages, rows = 128, 10_000, 64
    rng = np.random.default_rng(9)
    matrix = l2_normalize(rng.standard_normal((pages * rows, dim), dtype=np.float32))
    ids = np.array([f"p{i:05d}" for i in range(pages)], dtype=object).repeat(rows)
    view = VectorView("v", (1,), ids, np.full(len(ids), MODALITY_CODES["page"], np.int8), matrix)
    start = time.perf_counter()
    item_rows(view)
    group_s = time.perf_counter() - start
    # Each query: 25 noisy copies of rows of one planted page, which must come first.
    planted = rng.integers(pages, size=5)
    queries = [
        l2_normalize(
            matrix[p * rows + rng.integers(rows, size=25)]
            + 0.3 * rng.standard_normal((25, dim), dtype=np.float32)
        )
        for p in planted
    ]
    single = []
    for p, q in zip(planted, queries, strict=True):
        start = time.perf_counter()
        [row] = maxsim_search(view, [q], k=10)
        single.append(time.perf_counter() - start)
        assert row[0][0] == f"p{p:05d}"
    start = time.perf_counter()
    batch = maxsim_search(view, queries, k=10)
    batch_s = (time.perf_counter() - start) / len(queries)
    assert [r[0][0] for r in batch] == [f"p{p:05d}" for p in planted]
    with capsys.disabled():
        print(
            f"\nMaxSim 10k pages x 64 x 128: grouping {group_s * 1000:.0f} ms once; "
            f"median {statistics.median(single) * 1000:.0f} ms/query alone, "
            f"{batch_s * 1000:.0f} ms/query in a batch of {len(queries)}"
        )
