"""Adaptive cut-off rules."""

from __future__ import annotations

import pytest

from polyseek.errors import ConfigError
from polyseek.search.cutoff import Cutoff


def test_relative_keeps_scores_near_the_top():
    scores = [0.9, 0.85, 0.8, 0.3, 0.25, 0.2]
    assert Cutoff("relative", 0.5).keep(scores) == 3
    assert Cutoff("relative", 0.0).keep(scores) == 6
    assert Cutoff("relative", 1.0).keep(scores) == 1


def test_gap_cuts_at_the_cliff_only_when_it_is_large():
    assert Cutoff("gap", 0.3).keep([0.9, 0.88, 0.86, 0.4, 0.39]) == 3
    # Evenly spaced scores have no cliff: keep all.
    assert Cutoff("gap", 0.3).keep([0.9, 0.8, 0.7, 0.6, 0.5]) == 5


def test_min_hits_and_degenerate_lists():
    assert Cutoff("gap", 0.1, min_hits=2).keep([1.0, 0.1, 0.05]) == 2
    assert Cutoff("relative", 0.9).keep([0.5, 0.5, 0.5]) == 3  # no spread: nothing to cut
    assert Cutoff("relative", 0.9).keep([]) == 0


def test_parse_and_validation():
    assert Cutoff.parse("gap:0.25") == Cutoff("gap", 0.25)
    assert Cutoff.parse("relative:0.6").describe() == "relative:0.6"
    with pytest.raises(ConfigError, match="unknown cut-off mode 'steep'"):
        Cutoff.parse("steep:0.2")
    with pytest.raises(ConfigError, match="bad cut-off"):
        Cutoff.parse("gap:abc")
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        Cutoff("gap", 1.5)
