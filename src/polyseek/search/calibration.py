"""Modality calibration: make scores of different item modalities comparable.

Raw cosine similarities of one encoder are not comparable across item modalities (the
modality gap): a text query scores text chunks higher than images or OCR snippets simply
because text-to-text similarity runs higher, so a mixed list is drowned by one modality.

A raw score ``s`` of an item of modality ``m`` becomes ``(s - mean[m]) / std[m]``: how
far the match stands out among that modality's items. Candidates are retrieved per
modality, so none is crowded out before scoring. Two sources of statistics:

* ``"query"`` (default): the query's own scores against a fixed sample of each
  modality's vectors (up to 4096 rows), computed at query time.
* ``"collection"``: collected at index time, per encoder and item modality, from
  *query-like* probes drawn from the collection itself: a deterministic sample of item
  texts is embedded as queries and scored against a sample of each modality's vectors
  (self-pairs excluded). Saved in ``calibration.json`` beside the manifest.

On the mixed paper pool (benchmarks/ranking.py, MiniLM) the per-query statistics raise
the drowned modality's top-10 share (0.38 -> 0.47) and the hit@1/5/10 averaged over the
two tasks, though that task's own hit@1 drops (0.21 -> 0.17); the collection-wide
statistics over-correct (the text task's hit@10 falls from 0.99 to 0.91).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyseek.encoders.base import Encoder
from polyseek.errors import StoreError
from polyseek.store.lancedb import _MODALITY_CODE, LanceStore
from polyseek.store.quantized import FirstPass
from polyseek.types import MODALITIES, Modality

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "calibration.json"
SEED = 0
MAX_PROBES = 200
MAX_ITEMS = 4096
PROBE_WORDS = 24  # probes are item texts cut to query length
MIN_ITEMS = 2


@dataclass(frozen=True)
class ScoreStats:
    mean: float
    std: float
    n: int  # number of (probe, item) pairs behind the statistics

    def standardise(self, score: float) -> float:
        return (score - self.mean) / self.std


Calibration = dict[str, dict[str, ScoreStats]]
"""encoder key -> modality -> score statistics."""


def calibration_path(store: LanceStore) -> Path:
    return store.path / CALIBRATION_FILE


def _probe_texts(store: LanceStore, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(item id, query-length text) for a deterministic sample of items with text."""
    t = store._table("items").to_arrow().select(["id", "source", "gen", "text"])
    committed = store._committed()
    rows = [
        (i, x)
        for i, s, g, x in zip(
            t.column("id").to_pylist(),
            t.column("source").to_pylist(),
            t.column("gen").to_pylist(),
            t.column("text").to_pylist(),
            strict=True,
        )
        if committed.get(s) == g and x and x.strip()
    ]
    rows.sort()  # table order depends on write history; the sample must not
    if len(rows) > MAX_PROBES:
        rows = [rows[i] for i in sorted(rng.choice(len(rows), MAX_PROBES, replace=False))]
    return [(i, " ".join(x.split()[:PROBE_WORDS])) for i, x in rows]


def compute_calibration(store: LanceStore, encoders: Sequence[Encoder]) -> Calibration:
    """Score statistics per encoder and item modality, from the collection itself."""
    out: Calibration = {}
    for enc in encoders:
        rng = np.random.default_rng(SEED)
        probes = _probe_texts(store, rng)
        if not probes:
            continue
        probe_vecs = enc.embed_queries([text for _, text in probes])
        probe_ids = np.array([i for i, _ in probes], dtype=object)
        cache = store._cache(enc.info.key)
        order = np.argsort(cache.ids.astype(str), kind="stable")
        ids, codes, matrix = cache.ids[order], cache.modality[order], cache.matrix[order]
        per_modality: dict[str, ScoreStats] = {}
        for modality in MODALITIES:
            keep = np.flatnonzero(codes == _MODALITY_CODE[modality])
            if len(keep) < MIN_ITEMS:
                continue
            if len(keep) > MAX_ITEMS:
                keep = np.sort(rng.choice(keep, MAX_ITEMS, replace=False))
            sims = probe_vecs @ matrix[keep].T
            self_pair = probe_ids[:, None] == ids[keep][None, :]
            values = sims[~self_pair].astype(np.float64)
            std = float(values.std())
            if values.size < MIN_ITEMS or std <= 1e-6:
                continue
            per_modality[modality] = ScoreStats(float(values.mean()), std, int(values.size))
        if per_modality:
            out[enc.info.key] = per_modality
    return out


def save_calibration(store: LanceStore, calibration: Calibration) -> None:
    data = {
        key: {m: {"mean": s.mean, "std": s.std, "n": s.n} for m, s in mods.items()}
        for key, mods in calibration.items()
    }
    path = calibration_path(store)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def load_calibration(store: LanceStore) -> Calibration:
    """The saved statistics; empty when the index predates calibration."""
    path = calibration_path(store)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            key: {
                m: ScoreStats(float(s["mean"]), float(s["std"]), int(s["n"]))
                for m, s in mods.items()
            }
            for key, mods in data.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"{path}: unreadable calibration statistics ({exc})",
            hint="delete the file and re-run `polyseek index` to recompute it",
        ) from exc


def update_calibration(store: LanceStore, encoders: Sequence[Encoder]) -> Calibration:
    calibration = compute_calibration(store, encoders)
    save_calibration(store, calibration)
    logger.info("calibration statistics for %d encoders saved", len(calibration))
    return calibration


CALIBRATION_MODES = ("query", "collection")
QUERY_SAMPLE = 4096  # rows per modality behind the per-query statistics

_samples: dict[tuple[str, str, int, int, int], dict[str, np.ndarray]] = {}


def query_stats(store: LanceStore, encoder_key: str, query: np.ndarray) -> dict[str, ScoreStats]:
    """This query's score statistics against each modality's items (a fixed sample).

    How far an item stands out from the rest of its modality *for this query* is
    comparable across modalities even when one modality's scores run higher overall.
    """
    cache = store._cache(encoder_key)
    key = (str(store.path), encoder_key, cache.version, cache.sources_version, len(cache.ids))
    rows = _samples.get(key)
    if rows is None:
        rng = np.random.default_rng(SEED)
        rows = {}
        for modality in MODALITIES:
            idx = np.flatnonzero(cache.modality == _MODALITY_CODE[modality])
            if len(idx) > QUERY_SAMPLE:
                idx = np.sort(rng.choice(idx, QUERY_SAMPLE, replace=False))
            if len(idx) >= MIN_ITEMS:
                rows[modality] = idx
        _samples.clear()  # one store version at a time is plenty
        _samples[key] = rows
    out: dict[str, ScoreStats] = {}
    for name, idx in rows.items():
        sims = cache.matrix[idx] @ np.asarray(query, dtype=np.float32)
        std = float(sims.std())
        if std > 1e-6:
            out[name] = ScoreStats(float(sims.mean()), std, len(idx))
    return out


def calibrated_search(
    store: LanceStore,
    encoder_key: str,
    query: np.ndarray,
    k: int,
    stats: dict[str, ScoreStats],
    modalities: Sequence[Modality] | None = None,
    exact: bool | None = None,
    first_pass: FirstPass | str | None = None,
) -> list[tuple[str, float]]:
    """Top-k by calibrated score: each modality searched on its own, then merged.

    Modalities without statistics keep their raw score (there is nothing to compare).
    """
    wanted = list(modalities) if modalities else list(MODALITIES)
    merged: list[tuple[str, float]] = []
    for modality in wanted:
        found = store.search_vectors(
            encoder_key, query[None, :], k, [modality], exact=exact, first_pass=first_pass
        )[0]
        s = stats.get(modality)
        merged.extend((i, s.standardise(v) if s else v) for i, v in found)
    merged.sort(key=lambda x: (-x[1], x[0]))
    return merged[:k]


__all__ = [
    "CALIBRATION_FILE",
    "CALIBRATION_MODES",
    "Calibration",
    "ScoreStats",
    "calibrated_search",
    "compute_calibration",
    "load_calibration",
    "query_stats",
    "save_calibration",
    "update_calibration",
]
