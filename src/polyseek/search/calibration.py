"""Modality calibration: make scores of different item modalities comparable.

Raw cosine similarities of one encoder are not comparable across item modalities (the
modality gap): a text query scores text chunks higher than images or OCR snippets simply
because text-to-text similarity runs higher, so a mixed list is drowned by one modality.

A raw score ``s`` of an item of modality ``m`` becomes ``(s - mean[m]) / std[m]``: how
far the match stands out among that modality's items. Candidates are retrieved per
modality, so none is crowded out before scoring. Three modes:

* ``"hubness"`` (default): first ``s - r(x) / 2``, where ``r(x)`` is how close item
  ``x`` sits to query-like probes in general (CSLS, see "hubness" below), then per-query
  statistics of those scores. Applied only when several modalities are merged; over one
  modality the raw order is kept. The probes are text queries, so the correction is
  scaled by the query's text share: whole for a text query, none for an image query
  (which gets per-query statistics alone), ``1 - image_weight`` for a composed one.
* ``"query"``: the query's own scores against a fixed sample of each modality's vectors
  (up to 4096 rows), computed at query time.
* ``"collection"``: collected at index time, per encoder and item modality, from
  *query-like* probes drawn from the collection itself: a deterministic sample of item
  texts is embedded as queries and scored against a sample of each modality's vectors
  (self-pairs excluded). Saved in ``calibration.json`` beside the manifest; the probe
  vectors, which the hubness mode uses, in ``calibration-probes.npz``.

Per-query statistics are shrunk toward the query's statistics over all items (moved by
the modality's index-time offset) as if by 30 more items, so that a modality of a few
items is neither capped (its best z-score cannot exceed ``sqrt(n - 1)``) nor hidden when
most of it matches the query.

benchmarks/ranking.py measures the modes on four constructions of a mixed paper pool
(each paper once, as its abstract or as a captioned figure, one with only 12 figures;
MiniLM; titles as queries). The default raises the drowned modality's top-10 share in
all four (e.g. 0.21 -> 0.59) with no significant fall of any task's hit@1/5/10 (paired
tests, Holm-adjusted) and the largest total hit@k gain; per-query statistics alone lose
hit@1/5 significantly on one pool, index-time statistics on three. A text query cannot
raise both tasks' shares at once: when the image task's share rises, the text task's
falls toward balance.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from polyseek.encoders.base import Encoder
from polyseek.errors import StoreError
from polyseek.search.base import CALIBRATION_MODES
from polyseek.search.filtered import FilteredStore
from polyseek.store.base import Store, VectorView
from polyseek.store.quantized import FirstPass
from polyseek.types import MODALITIES, MODALITY_CODES, Modality

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


def calibration_path(store: Store) -> Path:
    return store.path / CALIBRATION_FILE


@dataclass(frozen=True)
class Probe:
    item_id: str
    text: str  # the item's text cut to query length
    siblings: tuple[str, ...]  # ids of every item of the same source (the probe's own too)


def _probe_texts(store: Store, rng: np.random.Generator) -> list[Probe]:
    """Query-length probes from a deterministic sample of the items with text."""
    rows, of_source = [], defaultdict(list)
    for i, s, x in store.item_texts():  # in id order: the sample must not follow history
        of_source[s].append(i)
        if x and x.strip():
            rows.append((i, s, x))
    budget = _probe_budget(store, rows)
    if len(rows) > budget:
        rows = [rows[i] for i in sorted(rng.choice(len(rows), budget, replace=False))]
    return [
        Probe(i, " ".join(x.split()[:PROBE_WORDS]), tuple(sorted(of_source[s]))) for i, s, x in rows
    ]


def _probe_budget(store: Store, rows: Sequence[tuple[str, str, str]]) -> int:
    """How many probes to draw from ``rows``: :data:`MAX_PROBES`, or fewer when the
    collection has fewer items that are not layout regions of a page.

    A page's regions repeat its text, so they add no documents: with them a 40-page PDF
    counted 169 items, and embedding 169 probes instead of 40 cost a region ingest of it
    as much time as 22 more pages. The probes are still drawn from every item, regions
    too (their paragraphs read much like queries).
    """
    try:
        locators = store.visible_items(["id", "locator"]).to_pylist()
    except NotImplementedError:
        return MAX_PROBES
    regions = {r["id"] for r in locators if json.loads(r["locator"] or "{}").get("region")}
    documents = sum(1 for i, _, _ in rows if i not in regions)
    return min(MAX_PROBES, documents or len(rows))


def compute_calibration(store: Store, encoders: Sequence[Encoder]) -> Calibration:
    """Score statistics per encoder and item modality, from the collection itself."""
    return _compute(store, encoders)[0]


def _compute(
    store: Store, encoders: Sequence[Encoder]
) -> tuple[Calibration, dict[str, np.ndarray], list[Probe]]:
    """Statistics, and the probe vectors per encoder key they came from."""
    out: Calibration = {}
    vectors: dict[str, np.ndarray] = {}
    probes: list[Probe] = []
    for enc in encoders:
        if enc.kind == "late-interaction":  # MaxSim sums are not calibrated (pipeline._late)
            continue
        rng = np.random.default_rng(SEED)
        probes = _probe_texts(store, rng)
        if not probes:
            continue
        probe_vecs = enc.embed_queries([p.text for p in probes])
        vectors[enc.info.key] = np.asarray(probe_vecs, dtype=np.float32)
        probe_ids = np.array([p.item_id for p in probes], dtype=object)
        cache = store.vectors(enc.info.key)
        order = np.argsort(cache.ids.astype(str), kind="stable")
        ids, codes, matrix = cache.ids[order], cache.modality[order], cache.matrix[order]
        per_modality: dict[str, ScoreStats] = {}
        for modality in MODALITIES:
            keep = np.flatnonzero(codes == MODALITY_CODES[modality])
            if not len(keep):
                continue
            if len(keep) > MAX_ITEMS:
                keep = np.sort(rng.choice(keep, MAX_ITEMS, replace=False))
            sims = probe_vecs @ matrix[keep].T
            self_pair = probe_ids[:, None] == ids[keep][None, :]
            values = sims[~self_pair].astype(np.float64)
            if values.size < MIN_ITEMS:  # e.g. one item, whose only probe is itself
                continue
            std = float(values.std())
            if std <= 1e-6:
                continue
            per_modality[modality] = ScoreStats(float(values.mean()), std, int(values.size))
        if per_modality:
            out[enc.info.key] = per_modality
    return out, vectors, probes


def save_calibration(store: Store, calibration: Calibration) -> None:
    data = {
        key: {m: {"mean": s.mean, "std": s.std, "n": s.n} for m, s in mods.items()}
        for key, mods in calibration.items()
    }
    path = calibration_path(store)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def load_calibration(store: Store) -> Calibration:
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


def update_calibration(store: Store, encoders: Sequence[Encoder]) -> Calibration:
    calibration, vectors, probes = _compute(store, encoders)
    save_probes(store, vectors, probes)
    save_calibration(store, calibration)
    logger.info("calibration statistics for %d encoders saved", len(calibration))
    return calibration


# ---------------------------------------------------------------------------- hubness
# Some items sit close to very many queries (long, generic texts; captions made of
# boilerplate): "hubs" that crowd every result list, and whether an item is one differs
# item by item, not only by modality. CSLS (Conneau et al., 2018, "Word translation
# without parallel data") scores 2 cos(q, x) - r(x), r(x) the mean similarity of x to
# its HUBNESS_K nearest probes; ranking-equivalent to cos(q, x) - r(x) / 2. QB-Norm
# (Bogolin et al., CVPR 2022) applies the same idea with a bank of queries to cross-modal
# retrieval. The probes are the query-length item texts collected for the statistics
# above (items of the probe's own source excluded), saved beside them; r is computed
# from the in-memory vectors when first needed and kept per store version.
PROBES_FILE = "calibration-probes.npz"
HUBNESS_K = 10  # CSLS's neighbourhood
HUBNESS_WEIGHT = 0.5  # cos - r / 2  (CSLS: 2 cos - r)
HUBNESS_OVERSAMPLE = 5  # candidates per modality rescored = results x this
_BLOCK = 8192  # item rows per probe x item product


@dataclass(frozen=True)
class Hubness:
    """r(x) per row of an encoder's in-memory vectors; an item's r is its rows' mean.

    ``weight`` is what a score loses per unit of r: :data:`HUBNESS_WEIGHT` for a text
    query (:func:`calibration_stats` scales it by the query's text share).
    """

    r: np.ndarray
    view: VectorView
    weight: float = HUBNESS_WEIGHT

    def of(self, item_id: str) -> float:
        rows = self.view.rows_of(item_id)
        return float(self.r[rows].mean()) if len(rows) else 0.0

    def penalty(self, item_id: str) -> float:
        """What the item's score loses: ``weight`` times its r."""
        return self.weight * self.of(item_id)

    def row_penalties(self, idx: np.ndarray) -> np.ndarray:
        """What each of the rows ``idx`` loses."""
        return self.weight * self.r[idx]


def probes_path(store: Store) -> Path:
    return store.path / PROBES_FILE


def save_probes(store: Store, vectors: dict[str, np.ndarray], probes: list[Probe]) -> None:
    """Probe vectors per encoder (and the items each probe must not be scored against)."""
    keys = sorted(vectors)
    siblings = [list(p.siblings) for p in probes]
    arrays: dict[str, np.ndarray] = {
        "keys": np.array(keys, dtype=str),
        "sibling_ids": np.array([i for ids in siblings for i in ids], dtype=str),
        "sibling_counts": np.array([len(ids) for ids in siblings], dtype=np.int64),
    }
    for n, key in enumerate(keys):
        arrays[f"v{n}"] = vectors[key]
    path = probes_path(store)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


_probes: dict[Path, tuple[int, dict[str, np.ndarray], list[np.ndarray]]] = {}


def _load_probes(store: Store) -> tuple[int, dict[str, np.ndarray], list[np.ndarray]] | None:
    path = probes_path(store)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _probes.get(path)
    if cached is not None and cached[0] == mtime:
        return cached
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = [str(k) for k in data["keys"]]
            vectors = {k: data[f"v{n}"].astype(np.float32) for n, k in enumerate(keys)}
            ids, counts = data["sibling_ids"], data["sibling_counts"]
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(
            f"{path}: unreadable calibration probes ({exc})",
            hint="delete the file and re-run `polyseek index` to recompute it",
        ) from exc
    siblings = np.split(ids, np.cumsum(counts)[:-1]) if len(counts) else []
    _probes.clear()
    _probes[path] = (mtime, vectors, siblings)
    return _probes[path]


def hubness(store: Store, encoder_key: str) -> Hubness | None:
    """r(x) for every row of one encoder; None without probes (an older index)."""
    loaded = _load_probes(store)
    if loaded is None or encoder_key not in loaded[1]:
        return None
    mtime, vectors, siblings = loaded
    probes = vectors[encoder_key]
    if isinstance(store, FilteredStore):  # a filter's view: the whole view's r, its rows
        whole = hubness(store.base, encoder_key)
        if whole is None:
            return None
        rows = store.base_rows(encoder_key)
        return store.vectors(encoder_key).derived(
            f"hubness-{mtime}", lambda view: Hubness(whole.r[rows], view)
        )

    def build(view: VectorView) -> Hubness:
        return Hubness(_hub_scores(view, probes, siblings), view)

    return store.vectors(encoder_key).derived(f"hubness-{mtime}", build)


def _hub_scores(view: VectorView, probes: np.ndarray, siblings: list[np.ndarray]) -> np.ndarray:
    """Each row's mean similarity to its HUBNESS_K nearest probes (own source excluded)."""
    n_rows = len(view.ids)
    k = min(HUBNESS_K, len(probes))
    r = np.zeros(n_rows, dtype=np.float32)
    if not (k and n_rows and len(siblings) == len(probes)):
        return r
    masked_p, masked_row = [], []
    for p, ids in enumerate(siblings):
        rows = [int(x) for i in ids for x in view.rows_of(str(i))]
        masked_p.extend([p] * len(rows))
        masked_row.extend(rows)
    mp, mr = np.array(masked_p, dtype=np.int64), np.array(masked_row, dtype=np.int64)
    for start in range(0, n_rows, _BLOCK):
        stop = min(start + _BLOCK, n_rows)
        sims = probes @ view.matrix[start:stop].T  # probes x block
        inside = (mr >= start) & (mr < stop)
        sims[mp[inside], mr[inside] - start] = -np.inf
        top = -np.sort(-sims, axis=0)[:k]
        finite = np.isfinite(top)
        counts = finite.sum(axis=0)
        sums = np.where(finite, top, 0.0).sum(axis=0)
        r[start:stop] = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return r


QUERY_SAMPLE = 4096  # rows per modality behind the per-query statistics
PRIOR_ITEMS = 30  # weight of the index-time statistics in the per-query ones, in items


def _sample_rows(
    store: Store, encoder_key: str, view: VectorView | None = None
) -> dict[str, np.ndarray]:
    """A fixed sample of each modality's rows (kept with the encoder's vector view; give
    ``view`` to index the very rows it holds while writers add more)."""

    def build(view: VectorView) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        rows: dict[str, np.ndarray] = {}
        for modality in MODALITIES:
            idx = np.flatnonzero(view.modality == MODALITY_CODES[modality])
            if len(idx) > QUERY_SAMPLE:
                idx = np.sort(rng.choice(idx, QUERY_SAMPLE, replace=False))
            if len(idx):
                rows[modality] = idx
        return rows

    if view is None:  # (not `view or ...`: an empty view is falsy)
        view = store.vectors(encoder_key)
    return view.derived("calibration-samples", build)


def mixes_modalities(
    store: Store, encoder_key: str, modalities: Sequence[Modality] | None = None
) -> bool:
    """Whether a search over ``modalities`` (None: all) merges items of several modalities."""
    present = set(store.vector_modalities(encoder_key))
    return len(present & set(modalities) if modalities else present) > 1


def query_stats(
    store: Store,
    encoder_key: str,
    query: np.ndarray,
    hub: Hubness | None = None,
    prior: dict[str, ScoreStats] | None = None,
) -> dict[str, ScoreStats]:
    """This query's score statistics against each modality's items (a fixed sample).

    How far an item stands out from the rest of its modality *for this query* is
    comparable across modalities even when one modality's scores run higher overall.
    With ``hub``, of the hubness-corrected scores.

    With ``prior`` (the index-time statistics of each modality), each modality's mean and
    variance are shrunk, as if by :data:`PRIOR_ITEMS` more items, toward this query's
    statistics over all items, the mean moved by the modality's offset in the index-time
    statistics. A modality of a few items gives no reliable spread (its best z-score
    cannot even exceed ``sqrt(n - 1)``), and when most of a small modality matches the
    query its own statistics would hide exactly that; the offset keeps the modality gap
    corrected. Modalities of thousands of items barely move.
    """
    # One view throughout: a backfill or index run may add rows between two reads.
    cache = hub.view if hub is not None else store.vectors(encoder_key)
    values: dict[str, np.ndarray] = {}
    for name, idx in _sample_rows(store, encoder_key, cache).items():
        values[name] = (cache.matrix[idx] @ np.asarray(query, dtype=np.float32)).astype(np.float64)
        if hub is not None:
            values[name] -= hub.row_penalties(idx)
    offsets = _offsets(prior, {m: len(v) for m, v in values.items()}) if prior else {}
    pooled = np.concatenate(list(values.values())) if values else np.zeros(0)
    out: dict[str, ScoreStats] = {}
    for name, v in values.items():
        n = len(v)
        mean, var = float(v.mean()), float(v.var())
        if name in offsets:
            mean = (n * mean + PRIOR_ITEMS * (pooled.mean() + offsets[name])) / (n + PRIOR_ITEMS)
            var = (n * var + PRIOR_ITEMS * pooled.var()) / (n + PRIOR_ITEMS)
        if var <= 1e-12:  # a lone item and no prior: judge it against all items
            mean, var = float(pooled.mean()), float(pooled.var())
        if var > 1e-12:
            out[name] = ScoreStats(float(mean), float(np.sqrt(var)), n)
    return out


def _offsets(prior: dict[str, ScoreStats], sizes: dict[str, int]) -> dict[str, float]:
    """Each modality's index-time mean minus the size-weighted mean of all modalities."""
    known = {m: n for m, n in sizes.items() if m in prior}
    if not known:
        return {}
    total = sum(known.values())
    overall = sum(prior[m].mean * n for m, n in known.items()) / total
    return {m: prior[m].mean - overall for m in known}


_saved: dict[Path, tuple[int, Calibration]] = {}


def store_calibration(store: Store) -> Calibration:
    """The store's saved statistics, re-read when the file changes."""
    path = calibration_path(store)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    cached = _saved.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_calibration(store))
        _saved[path] = cached
    return cached[1]


@dataclass(frozen=True)
class QueryCalibration:
    """What calibrated search needs for one query and encoder."""

    per_modality: dict[str, ScoreStats]
    hub: Hubness | None


def calibration_stats(
    store: Store,
    encoder_key: str,
    query: np.ndarray,
    mode: str,
    modalities: Sequence[Modality] | None = None,
    text_share: float = 1.0,
) -> QueryCalibration | None:
    """The statistics ``mode`` calibrates with; None when there are none (raw scores).

    ``text_share`` is how much of the query vector came from text
    (:attr:`~polyseek.search.base.Query.text_share`). The hubness probes are text queries:
    how close an item sits to *them* says nothing about an image query's neighbourhood,
    and subtracting it reordered pictures among themselves, until an image query no
    longer found the identical picture first. So the correction is scaled by the text
    share, and an image query is calibrated by per-query statistics alone.
    """
    saved = store_calibration(store)
    hub = None
    if mode == "hubness" and text_share > 0.0 and mixes_modalities(store, encoder_key, modalities):
        hub = hubness(store, encoder_key)  # one modality: calibration keeps the raw order
        if hub is not None and text_share < 1.0:
            hub = replace(hub, weight=HUBNESS_WEIGHT * text_share)
    if mode == "collection":
        stats = saved.get(encoder_key)
    else:
        stats = query_stats(store, encoder_key, query, hub, prior=saved.get(encoder_key))
    return QueryCalibration(stats, hub) if stats else None


def calibrated_search(
    store: Store,
    encoder_key: str,
    query: np.ndarray,
    k: int,
    stats: dict[str, ScoreStats],
    modalities: Sequence[Modality] | None = None,
    exact: bool | None = None,
    first_pass: FirstPass | str | None = None,
    hub: Hubness | None = None,
) -> list[tuple[str, float]]:
    """Top-k by calibrated score: each modality searched on its own, then merged.

    Modalities without statistics keep their raw score (there is nothing to compare).
    With ``hub``, each modality's best ``k x HUBNESS_OVERSAMPLE`` raw candidates are
    rescored with the hubness correction before standardising.
    """
    wanted = list(modalities) if modalities else list(MODALITIES)
    merged: list[tuple[str, float]] = []
    depth = k * HUBNESS_OVERSAMPLE if hub is not None else k
    for modality in wanted:
        found = store.search_vectors(
            encoder_key, query[None, :], depth, [modality], exact=exact, first_pass=first_pass
        )[0]
        if hub is not None:
            found = [(i, v - hub.penalty(i)) for i, v in found]
        s = stats.get(modality)
        merged.extend((i, s.standardise(v) if s else v) for i, v in found)
    merged.sort(key=lambda x: (-x[1], x[0]))
    return merged[:k]


def calibrated_scores(
    store: Store,
    encoder_key: str,
    query: np.ndarray,
    item_ids: Sequence[str],
    stats: dict[str, ScoreStats],
    hub: Hubness | None = None,
    modalities: Sequence[Modality] | None = None,
) -> dict[str, float]:
    """The calibrated score :func:`calibrated_search` would give each of ``item_ids``."""
    view = store.vectors(encoder_key)
    raw = view.best_scores(item_ids, query, modalities)
    out: dict[str, float] = {}
    for item_id, value in raw.items():
        code = int(view.modality[view.rows_of(item_id)[0]])
        if hub is not None:
            value -= hub.penalty(item_id)
        s = stats.get(MODALITIES[code])
        out[item_id] = s.standardise(value) if s else value
    return out


__all__ = [
    "CALIBRATION_FILE",
    "CALIBRATION_MODES",
    "Calibration",
    "Hubness",
    "QueryCalibration",
    "ScoreStats",
    "calibrated_scores",
    "calibrated_search",
    "calibration_stats",
    "compute_calibration",
    "hubness",
    "mixes_modalities",
    "load_calibration",
    "query_stats",
    "save_calibration",
    "store_calibration",
    "update_calibration",
]
