"""Fusion of the candidate lists: one weighted mix of standardised signals.

A query's candidates come from several signals: one ranked list per encoder (cosine or
calibrated scores) and BM25. Their scores live on different scales, and their spread
changes from query to query, so each signal is standardised (z-scores) over the *union*
of the candidates, then mixed with weights (:class:`Signal`):

* a candidate that one list missed gets that signal's true value where it can be had: the
  exact cosine from the encoder's vectors, and BM25 = 0 when the lexical list ended
  before its depth (every document that matches a query word is in it). Standardising
  over one list alone gives a lone BM25 match a spread of zero - the rare term that
  identifies the one right file added nothing to the mix.
* a candidate the signal cannot score at all (a picture has no text for BM25 and no
  vector in a text encoder) contributes 0 for it, the signal's average: it is ranked on
  what it has, not pulled down by what it lacks.

``fusion="rrf"`` fuses by weighted reciprocal ranks instead (Cormack et al., 2009), which
throws the score gaps away. benchmarks/defaults.py and benchmarks/documents.py measure both.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from polyseek.search.base import Fused, Ranked

RRF_K = 60


def standardise(values: Sequence[float]) -> np.ndarray:
    """z-scores of ``values``; all zeros when they do not vary."""
    a = np.asarray(values, dtype=np.float64)
    std = a.std()
    return (a - a.mean()) / std if std > 1e-12 else np.zeros_like(a)


@dataclass(frozen=True)
class Signal:
    """One ranked list to fuse and how to value candidates it did not return.

    ``fill(ids)`` gives exact values for some of ``ids`` (those it can score); otherwise a
    candidate among those ``covers(ids)`` returns gets ``absent``; any other candidate has
    no value.
    """

    name: str
    ranked: Ranked
    weight: float = 1.0
    fill: Callable[[list[str]], dict[str, float]] | None = None
    covers: Callable[[list[str]], Collection[str]] | None = None
    absent: float | None = None
    # Calibration: standardise within groups (each candidate's item modality), each
    # group's statistics shrunk toward all candidates' as if by ``prior`` more of them.
    group: Callable[[str], str | None] | None = None
    prior: float = 0.0
    # Calibrated scores: the raw ones (exact cosines) of some candidates, so that a hit's
    # explanation can split the signal's part into the raw signal and the calibration shift.
    raw: Callable[[list[str]], dict[str, float]] | None = None

    def values(self, candidates: Sequence[str]) -> dict[str, float]:
        got = dict(self.ranked)
        missing = [c for c in candidates if c not in got]
        if missing and self.fill is not None:
            got.update(self.fill(missing))
            missing = [c for c in missing if c not in got]
        if self.absent is not None and missing:
            covered = set(missing if self.covers is None else self.covers(missing))
            for c in missing:
                if c in covered:
                    got[c] = self.absent
        return got


CALIBRATION = "calibration"  # the explanation's name for what calibration moved a score


def zscore_fusion(signals: Sequence[Signal], k: int) -> list[Fused]:
    """Weighted mean of each signal's z-scores over the union of the candidates.

    Each candidate's score is the sum of its signals' parts ``weight x z / total``, kept as
    its explanation (``Fused.contributions``); a calibrated signal's part is split into
    the part its raw scores would have had and the :data:`CALIBRATION` shift. A signal
    that cannot score a candidate has no part in it (it is not counted against it).
    """
    candidates = list(dict.fromkeys(i for s in signals for i, _ in s.ranked))
    total = sum(s.weight for s in signals) or 1.0
    scores = dict.fromkeys(candidates, 0.0)
    raw: dict[str, dict[str, float]] = {c: {} for c in candidates}
    parts: dict[str, dict[str, float]] = {c: {} for c in candidates}
    for s in signals:
        values = s.values(candidates)
        ids = [c for c in candidates if c in values]
        zs = (
            grouped_z(ids, values, s.group, s.prior)
            if s.group
            else standardise([values[c] for c in ids])
        )
        plain = _uncalibrated_z(s, ids, values, zs)
        for c, z in zip(ids, zs, strict=True):
            share = s.weight * float(z) / total
            scores[c] += share
            raw[c][s.name] = values[c]
            base = s.weight * plain.get(c, float(z)) / total
            parts[c][s.name] = parts[c].get(s.name, 0.0) + base
            if share != base:
                parts[c][CALIBRATION] = parts[c].get(CALIBRATION, 0.0) + share - base
    order = sorted(candidates, key=lambda c: (-scores[c], c))[:k]
    return [Fused(c, scores[c], raw[c], parts[c]) for c in order]


def _uncalibrated_z(
    s: Signal, ids: list[str], values: dict[str, float], zs: np.ndarray
) -> dict[str, float]:
    """The z-scores a calibrated signal would give without calibration (empty if it is not
    calibrated): plain z of its values when it is grouped, of its raw scores otherwise."""
    if s.group is not None:
        return dict(
            zip(ids, (float(z) for z in standardise([values[c] for c in ids])), strict=True)
        )
    if s.raw is None or not ids:
        return {}
    raws = s.raw(ids)
    have = [c for c in ids if c in raws]
    return dict(zip(have, (float(z) for z in standardise([raws[c] for c in have])), strict=True))


def grouped_z(
    ids: Sequence[str],
    values: dict[str, float],
    group: Callable[[str], str | None],
    prior: float,
) -> np.ndarray:
    """z-scores within each group, its mean and variance shrunk toward the pooled ones."""
    a = np.asarray([values[c] for c in ids], dtype=np.float64)
    if len(a) == 0:
        return a
    mean, var = a.mean(), a.var()
    keys = [group(c) for c in ids]
    out = np.zeros_like(a)
    for key in set(keys):
        mask = np.fromiter((k == key for k in keys), dtype=bool, count=len(keys))
        n = int(mask.sum())
        m = (n * a[mask].mean() + prior * mean) / (n + prior)
        v = (n * a[mask].var() + prior * var) / (n + prior)
        out[mask] = (a[mask] - m) / np.sqrt(v) if v > 1e-12 else 0.0
    return out


def rrf_fusion(signals: Sequence[Signal], k: int, rrf_k: int = RRF_K) -> list[Fused]:
    """Weighted reciprocal rank fusion: sum of ``weight / (rrf_k + rank)``."""
    scores: dict[str, float] = {}
    raw: dict[str, dict[str, float]] = {}
    parts: dict[str, dict[str, float]] = {}
    for s in signals:
        for rank, (item, value) in enumerate(s.ranked, start=1):
            share = s.weight / (rrf_k + rank)
            scores[item] = scores.get(item, 0.0) + share
            raw.setdefault(item, {})[s.name] = value
            mine = parts.setdefault(item, {})
            mine[s.name] = mine.get(s.name, 0.0) + share
    order = sorted(scores, key=lambda c: (-scores[c], c))[:k]
    return [Fused(c, scores[c], raw[c], parts[c]) for c in order]


__all__ = ["CALIBRATION", "RRF_K", "Signal", "rrf_fusion", "standardise", "zscore_fusion"]
