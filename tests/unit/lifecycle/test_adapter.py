"""The adapter math: Procrustes and low-rank affine maps, and the retention they keep."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from polyseek.encoders.base import l2_normalize
from polyseek.lifecycle.adapter import (
    Adapter,
    fit_low_rank_affine,
    fit_procrustes,
    known_item_recall,
    retention,
)


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    return l2_normalize(centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim)))


def test_procrustes_matches_scipy_and_recovers_a_rotation():
    old = _clustered(400, 24, 0)
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(24, 24)))
    new = old @ rotation.T  # NEW's space is a rotation of OLD's
    adapter = fit_procrustes(new, old)
    expected, _ = orthogonal_procrustes(new, old)
    np.testing.assert_allclose(adapter.weight, expected, atol=1e-5)
    np.testing.assert_allclose(adapter.apply(new), old, atol=1e-4)
    owner = np.arange(400)
    assert retention(new[:50], new, old, owner, adapter, exclude=owner[:50]) == 1.0


def test_procrustes_maps_between_different_dimensions():
    old = _clustered(300, 16, 2)
    embed = np.linalg.qr(np.random.default_rng(3).normal(size=(32, 16)))[0]  # 32 x 16
    new = old @ embed.T
    adapter = fit_procrustes(new, old)
    assert adapter.weight.shape == (32, 16)
    np.testing.assert_allclose(adapter.apply(new), old, atol=1e-4)


def test_low_rank_affine_recovers_an_affine_map_of_low_rank():
    rng = np.random.default_rng(4)
    new = _clustered(500, 32, 5)
    true = rng.normal(size=(32, 4)) @ rng.normal(size=(4, 32))  # rank 4
    old = new @ true + 0.3
    adapter = fit_low_rank_affine(new, old, rank=4, ridge=1e-8)
    assert np.linalg.matrix_rank(adapter.weight, tol=1e-4) == 4
    np.testing.assert_allclose(new @ adapter.weight + adapter.bias, old, atol=1e-3)
    # A rotation cannot express it.
    rotated = fit_procrustes(new, old)
    assert np.abs(new @ rotated.weight - old).mean() > 0.1


def test_retention_is_item_level_and_leaves_the_query_item_out():
    corpus = np.eye(4, dtype=np.float32)
    owner = np.array([0, 0, 1, 2])  # item 0 owns two rows
    swap = Adapter("test", np.eye(4, dtype=np.float32)[[1, 0, 2, 3]], np.zeros(4, np.float32))
    q = np.array([[1.0, 0.0, 0.0, 0.0]], np.float32)
    # Row swap within item 0: the same items rank the same.
    assert retention(q, corpus, corpus, owner, swap, k=1) == 1.0
    assert retention(q, corpus, corpus, owner, swap, k=2, exclude=np.array([0])) == 1.0


def test_save_and_load(tmp_path):
    adapter = fit_low_rank_affine(_clustered(100, 8, 6), _clustered(100, 8, 7), rank=3)
    adapter.save(tmp_path / "a.npz")
    back = Adapter.load(tmp_path / "a.npz")
    assert (back.method, back.rank) == (adapter.method, 3)
    np.testing.assert_array_equal(back.weight, adapter.weight)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("rank", [0, 2])
def test_fitted_maps_are_finite_on_few_pairs(rank):
    adapter = fit_low_rank_affine(_clustered(5, 16, 8), _clustered(5, 16, 9), rank=rank)
    assert np.isfinite(adapter.weight).all()


def test_known_item_recall_counts_the_wanted_item_in_the_top_k():
    corpus = np.eye(4, dtype=np.float32)
    owner = np.array([0, 0, 1, 2])  # item 0 owns rows 0 and 1
    queries = np.array([[0, 1, 0, 0], [0, 0, 0.9, 0.1], [0, 0, 0.9, 0.1]], np.float32)
    want = np.array([0, 1, 2])
    assert known_item_recall(queries, corpus, owner, want, k=1) == pytest.approx(2 / 3)
    assert known_item_recall(queries, corpus, owner, want, k=2) == 1.0
    # Through a map that swaps the last two axes, the third query finds item 2 first.
    swap = Adapter("test", np.eye(4, dtype=np.float32)[[0, 1, 3, 2]], np.zeros(4, np.float32))
    assert known_item_recall(queries, corpus, owner, want, swap, k=1) == pytest.approx(2 / 3)
