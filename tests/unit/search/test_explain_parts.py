"""Each fused score's parts (``contributions``) sum to it, through every fusion path."""

from __future__ import annotations

import numpy as np
import pytest

from polyseek.search.base import Fused
from polyseek.search.hybrid import CALIBRATION, Signal, rrf_fusion, zscore_fusion
from polyseek.search.pipeline import mix_rerank

DENSE = [("a", 1.9), ("b", 1.1), ("c", -0.4)]  # calibrated scores
RAW = {"a": 0.62, "b": 0.58, "c": 0.31, "d": 0.2}  # their raw cosines
LEXICAL = [("b", 12.0), ("d", 2.0), ("a", 1.0)]


def _sums(out: list[Fused]) -> None:
    for f in out:
        assert sum(f.contributions.values()) == pytest.approx(f.score, abs=1e-9), f


def test_zscore_parts_sum_and_split_calibration() -> None:
    def raw(ids: list[str]) -> dict[str, float]:
        return {i: RAW[i] for i in ids if i in RAW}

    dense = Signal("enc", DENSE, 0.3, raw=raw)
    lexical = Signal("lexical", LEXICAL, 0.7, group=lambda i: "text" if i != "a" else "image")
    out = zscore_fusion([dense, lexical], 4)
    _sums(out)
    assert any(CALIBRATION in f.contributions for f in out)
    # c has no BM25 value (the list was not cut: it would be 0, but nothing covers it):
    # it has no lexical part rather than a negative one
    c = next(f for f in out if f.item_id == "c")
    assert "lexical" not in c.contributions


def test_uncalibrated_parts_have_no_calibration() -> None:
    out = zscore_fusion([Signal("enc", DENSE), Signal("lexical", LEXICAL)], 4)
    _sums(out)
    assert all(CALIBRATION not in f.contributions for f in out)


def test_rrf_parts_sum() -> None:
    _sums(rrf_fusion([Signal("enc", DENSE, 0.4), Signal("lexical", LEXICAL, 0.6)], 4))


def test_mixed_rerank_parts_sum() -> None:
    head = zscore_fusion([Signal("enc", DENSE), Signal("lexical", LEXICAL)], 4)
    final, parts = mix_rerank(0.5, [3.0, -1.0, 0.5, 2.0], head, "rr")
    for score, mine in zip(final, parts, strict=True):
        assert sum(mine.values()) == pytest.approx(score, abs=1e-9)
        assert "rr" in mine
    flat = [Fused(f.item_id, 1.0, {}, {"enc": 1.0}) for f in head]  # no spread: rr alone
    final, parts = mix_rerank(0.5, [3.0, -1.0, 0.5, 2.0], flat, "rr")
    assert np.allclose(final, [p["rr"] + p["enc"] for p in parts])
