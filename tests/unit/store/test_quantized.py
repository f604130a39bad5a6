"""Compressed first passes (truncate / int8 / binary) with exact float32 rescoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.encoders.base import EncoderInfo
from polyseek.errors import ConfigError, QueryError
from polyseek.eval import EvalConfig
from polyseek.eval.samples import write_beir_papers
from polyseek.samples import load_papers
from polyseek.search.base import Query, Ranking
from polyseek.search.pipeline import SearchPipeline
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.store.quantized import FirstPass, first_pass_search
from polyseek.types import Locator, item_id

DIM = 384
ENC = EncoderInfo(spec="test:enc", kind="text", revision="r1", dim=DIM)
PAPERS = Path(__file__).resolve().parents[2] / "fixtures" / "papers"
PASSES = ("truncate:128", "int8", "binary")


def mixtures(rng: np.random.Generator, centroids: np.ndarray, n: int) -> np.ndarray:
    """Unit vectors mixing two of the centroids plus noise: structured, like real
    embeddings (isotropic random vectors have no near neighbours worth finding)."""
    a, b = rng.integers(0, len(centroids), (2, n))
    w = rng.uniform(0, 1, (n, 1)).astype(np.float32)
    x = w * centroids[a] + (1 - w) * centroids[b]
    x += rng.normal(scale=0.04, size=x.shape).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centroids = rng.normal(size=(300, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    matrix = mixtures(rng, centroids, 20_000)
    queries = mixtures(rng, centroids, 50)
    ids = np.array([f"item{i}" for i in range(len(matrix))], dtype=object)
    return matrix, ids, queries


def recall_at_10(found: list[list[tuple[str, float]]], exact_scores: np.ndarray) -> float:
    want = [{f"item{j}" for j in np.argsort(-row)[:10]} for row in exact_scores]
    return float(
        np.mean([len({i for i, _ in f} & w) / 10 for f, w in zip(found, want, strict=True)])
    )


@pytest.mark.parametrize("spec", PASSES)
def test_first_pass_with_rescoring_finds_the_exact_top_10(data, spec):
    matrix, ids, queries = data
    exact = queries @ matrix.T
    deep = recall_at_10(
        first_pass_search(FirstPass.parse(spec, 10), matrix, ids, queries, 10), exact
    )
    shallow = recall_at_10(
        first_pass_search(FirstPass.parse(spec, 1), matrix, ids, queries, 10), exact
    )
    # Measured on this data: 1.0 for all three at oversample 10; at oversample 1 (no
    # room to rescore) truncate:128 0.54, binary 0.55, int8 0.99.
    assert deep >= 0.95
    assert shallow <= deep
    if spec != "int8":
        assert shallow < 0.8  # the rescoring depth is what buys the recall


@pytest.mark.parametrize("spec", PASSES)
def test_returned_scores_are_the_exact_float32_ones(data, spec):
    matrix, ids, queries = data
    index = {str(i): n for n, i in enumerate(ids)}
    found = first_pass_search(FirstPass.parse(spec), matrix, ids, queries, 10)
    for q, hits in zip(queries, found, strict=True):
        assert len(hits) == 10
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        exact = matrix[[index[i] for i, _ in hits]] @ q
        np.testing.assert_allclose(scores, exact, rtol=0, atol=1e-6)


def test_repeated_ids_come_back_once_at_their_best_row(data):
    matrix, _, queries = data
    ids = np.array([f"item{i // 4}" for i in range(len(matrix))], dtype=object)  # 4 rows each
    exact = queries[0] @ matrix.T
    best: dict[str, float] = {}
    for i, s in zip(ids, exact, strict=True):
        best[i] = max(best.get(i, -2.0), float(s))
    want = sorted(best.items(), key=lambda x: -x[1])[:10]
    got = first_pass_search(FirstPass.parse("binary", 2), matrix, ids, queries[:1], 10)[0]
    assert len({i for i, _ in got}) == 10
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)


# ----------------------------------------------------------------- through the store
@pytest.fixture(scope="module")
def store(tmp_path_factory, data) -> tuple[LanceStore, list[str], np.ndarray]:
    matrix, _, _ = data
    vectors = matrix[:3000]
    tmp = tmp_path_factory.mktemp("quantized")
    store = LanceStore.create(tmp / "idx", Manifest((ENC,), collection_root=str(tmp)))
    batch = SourceBatch()
    for f in range(300):
        src = f"f{f:03d}.txt"
        batch.records.append(SourceRecord(src, "h", 1, 1, "g1", "ok", n_items=10))
        for c in range(10):
            loc = Locator(char_start=c * 10, char_end=c * 10 + 10)
            modality = "image" if f % 3 == 0 else "text"
            batch.items.append(StoredItem(item_id(src, loc), src, "g1", modality, loc, "", {}))
    ids = [it.id for it in batch.items]
    batch.vectors[ENC.key] = (ids, vectors)
    store.commit(batch)
    return store, ids, vectors


@pytest.mark.parametrize("spec", PASSES)
def test_store_first_pass_matches_exact_search_and_filters_modality(store, data, spec):
    lance, ids, _ = store
    queries = data[2][:10]
    images = {i for n, i in enumerate(ids) if (n // 10) % 3 == 0}
    for modalities, bound in ((None, 0.95), (["image"], 0.8)):
        exact = lance.search_vectors(ENC.key, queries, 10, modalities, exact=True)
        got = lance.search_vectors(ENC.key, queries, 10, modalities, first_pass=spec)
        overlap = []
        for e, g in zip(exact, got, strict=True):
            assert len(g) == 10
            if modalities:
                assert {i for i, _ in g} <= images
            want = dict(e)
            overlap.append(len(set(want) & {i for i, _ in g}) / 10)
            for i, score in g:  # rescored: the exact scores wherever both found an item
                if i in want:
                    assert score == pytest.approx(want[i], abs=1e-6)
        # measured: 0.99-1.0 unfiltered; over the 1000 image rows (still 100 candidates)
        # truncate:128 0.88, binary 0.93, int8 1.0
        assert np.mean(overlap) >= bound, (modalities, overlap)
    assert spec in lance.vectors(ENC.key).compressed  # built once, kept with the matrix


def test_query_first_pass_reaches_the_store_through_ranking(store, data):
    lance, _, _ = store
    vec = data[2][7]
    pipeline = SearchPipeline(lance)
    exact = pipeline.candidates(Query(text="q"), {ENC: vec}, 10)[0].ranked
    q = Query(text="q", ranking=Ranking(first_pass="int8", oversample=5))
    got = pipeline.candidates(q, {ENC: vec}, 10)[0].ranked
    assert [i for i, _ in got] == [i for i, _ in exact]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in exact], rtol=1e-6)
    assert q.describe()["first_pass"] == "int8" and q.describe()["oversample"] == 5
    calibrated = Query(
        text="q", modalities=("text",), ranking=Ranking(first_pass="binary", calibrate=True)
    )
    hits = pipeline.candidates(calibrated, {ENC: vec}, 10)[0].ranked
    assert len(hits) == 10


@pytest.mark.parametrize(
    ("spec", "oversample", "message"),
    [
        ("int4", 10, "unknown first pass 'int4'"),
        ("truncate", 10, "unknown first pass 'truncate'"),
        ("truncate:abc", 10, "'abc' is not a number"),
        ("truncate:0", 10, "dimensions must be >= 1"),
        ("binary", 0, "oversample must be at least 1"),
    ],
)
def test_bad_first_pass_is_rejected_with_the_valid_values(store, spec, oversample, message):
    lance, _, vectors = store
    with pytest.raises(QueryError, match=message) as info:
        SearchPipeline(lance).candidates(
            Query(text="q", ranking=Ranking(first_pass=spec, oversample=oversample)),
            {ENC: vectors[0]},
            10,
        )
    if oversample:
        assert "none, truncate:N, int8, binary" in str(info.value)
    with pytest.raises(ConfigError, match=message):
        EvalConfig.of(first_pass=spec, oversample=oversample)


def test_truncate_is_capped_at_each_encoders_dimension(store):
    # One truncate:N for every encoder: one with N or fewer dimensions is searched whole.
    lance, _, vectors = store
    exact = lance.search_vectors(ENC.key, vectors[:3], 10, exact=True)
    for dims in (DIM, DIM + 64):
        assert (
            lance.search_vectors(ENC.key, vectors[:3], 10, first_pass=f"truncate:{dims}") == exact
        )


def test_first_pass_conflicts_are_rejected(store):
    lance, _, vectors = store
    with pytest.raises(QueryError, match="alternatives"):
        lance.search_vectors(ENC.key, vectors[:1], 10, exact=False, first_pass="int8")
    with pytest.raises(ConfigError, match="alternatives"):
        EvalConfig.of(exact=False, first_pass="binary")


def test_eval_cli_records_the_first_pass_and_its_recall(tmp_path):
    beir = write_beir_papers(load_papers(PAPERS)[:20], tmp_path / "beir")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        ["eval", "beir", str(beir), "--first-pass", "truncate:128", "--oversample", "3",
         "--pool", "union", "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "first pass truncate:128 (oversample 3) recall@10 against exact" in result.stdout
    data = json.loads(out.read_text())
    assert data["config"]["first_pass"] == "truncate:128" and data["config"]["oversample"] == 3
    assert 0.0 < data["first_pass"]["recall@10_vs_exact"] <= 1.0


def test_binary_candidates_exclude_rows_with_no_agreeing_bit(data):
    """Scores are unsigned bit counts: a row agreeing on no bit (the query's opposite)
    must rank last, not wrap around to first."""
    matrix, ids, _ = data
    query = -matrix[:1]
    got = first_pass_search(FirstPass.parse("binary", 1), matrix[:50], ids[:50], query, 1)[0]
    assert got[0][0] != "item0"  # the worst row of all (cosine -1)
    assert got[0][1] > 0.0
