"""benchmarks/scale.py's data helpers: mixture vectors, and ground truth computed in
chunks equal to one matrix product."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import scale  # noqa: E402
from query_latency import mixture_vectors  # noqa: E402


def _base(n: int = 40, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(n, dim)).astype(np.float32)
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def test_mixture_vectors_are_distinct_unit_mixtures_of_the_base() -> None:
    base = _base()
    vectors = mixture_vectors(base, 0, 300, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert len({row.tobytes() for row in vectors}) == 300  # no two the same
    # each mixes two base chunks (plus noise), so it stays close to one of them
    assert float(np.min(np.max(vectors @ base.T, axis=1))) > 0.3
    again = mixture_vectors(base, 0, 300, np.random.default_rng(0))
    np.testing.assert_array_equal(again, vectors)


def test_exact_top_in_chunks_matches_one_matrix_product(tmp_path: Path, monkeypatch) -> None:
    base = _base()
    vectors = mixture_vectors(base, 0, 1000, np.random.default_rng(0))
    path = tmp_path / "v.f32"
    vectors.tofile(path)
    queries = mixture_vectors(base, 0, 25, np.random.default_rng(1))
    monkeypatch.setattr(scale, "CHUNK", 97)  # chunk edges fall inside the top lists
    found = scale.exact_top(path, 1000, queries)
    scores = queries @ vectors.T
    for q, row in enumerate(found):
        want = np.lexsort((np.arange(1000), -scores[q]))[:10]
        assert row.tolist() == want.tolist()
    np.testing.assert_array_equal(scale.read_rows(path, 990, 1000, 16), vectors[990:])
