"""``polyseek encoders upgrade OLD NEW``: new queries on old vectors at once, then a switch.

1. **Sample** up to ``sample`` items (2-10k is plenty; all of them if fewer) that OLD
   embedded, and embed them with NEW, item side, exactly as the backfill would (so the
   rows are kept: the sample is the backfill's first batch, nothing embedded twice).
2. **Split** the sampled items: ``fit`` (60 %), ``dev`` (20 %) and ``test`` (20 %).
3. **Fit** the candidate adapters (:mod:`polyseek.lifecycle.adapter`) on the row pairs of
   the fit items, plus query-like pairs (short spans of their texts embedded as queries by
   both encoders): orthogonal Procrustes and low-rank affine maps of a few ranks and
   ridge strengths; keep the best on the **dev** items by known-item recall (a span from
   the middle of an item finds that item in the top 10 through the adapter), then by
   retention.
4. **Report** its retention on the **test** items: the recall@10 of "NEW query ->
   adapter -> OLD vectors" against NEW's exact top 10 over the sampled items, the query's
   own item left out. Queries are the first words of held-out items' texts
   (text -> text); for a two-tower model (fitted on the item side) also held-out pictures
   (image -> image) and texts against the pictures only (text -> image). The lowest of
   these is the retention. The known-item recall on the test items, through the adapter
   and with NEW's own vectors, is reported beside it (``known_item``).
5. **Refuse** when it is below ``min_retention`` (nothing changed: the manifest, the tables
   and the sample's vectors are left as they were or dropped); otherwise record the
   adapter and NEW (backfilling) in one manifest write, and keep the sample's rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.encoders import load_encoder
from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.errors import ConfigError
from polyseek.lifecycle.adapter import (
    Adapter,
    fit_low_rank_affine,
    fit_procrustes,
    known_item_recall,
    retention,
)
from polyseek.lifecycle.backfill import (
    LIFECYCLE_DIR,
    backfill_lock,
    embed_stored,
    lifecycle_dir,
    write_rows,
    writing_when_free,
)
from polyseek.lifecycle.manage import cleanup, lance_store, recorded
from polyseek.store.base import AdapterRecord, StoredItem
from polyseek.store.lancedb import LanceStore

if TYPE_CHECKING:
    from polyseek.collection import Collection

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE = 5000
DEFAULT_MIN_RETENTION = 0.9
QUERY_WORDS = 16  # a query is the first words of a held-out item's text
# Query-like pairs for the fit: short spans of the fit items' texts embedded by both
# encoders as queries. Item rows alone are whole texts, and a map fitted on them alone
# served short queries badly: on the bundled papers, MiniLM -> its first 3 layers, a
# mid-abstract sentence found its paper in the top 10 through the adapter for 0.61 of
# them with item rows alone, 0.76 with spans (NEW's own vectors: 0.82; upgrade.py).
SPANS_PER_ITEM = 16  # at most; fewer per item when many items share MAX_SPANS
MAX_SPANS = 6000
RANKS = (0, 128, 64)
RIDGES = (1e-3, 1e-2, 1e-1)
PICTURES = ("image", "page", "video")


class UpgradeRefusedError(ConfigError):
    """The adapter would lose too much: nothing was changed. ``report`` says by how much."""

    def __init__(self, report: UpgradeReport) -> None:
        self.report = report
        super().__init__(
            f"upgrade {report.old} -> {report.new} refused: the adapter keeps "
            f"{report.retention:.3f} of NEW's top 10 on held-out items, below the threshold "
            f"{report.min_retention:.3f}; the index is unchanged",
            hint="add NEW as a second encoder and let it backfill (`polyseek encoders add "
            "NEW`, then `polyseek encoders remove OLD`), or lower --min-retention",
        )


@dataclass
class UpgradeReport:
    """What an upgrade measured (retentions on held-out test items unless marked dev)."""

    old: str
    new: str
    method: str = ""
    chosen: str = ""  # the candidate's name (keys of ``dev``)
    rank: int = 0
    ridge: float = 0.0
    retention: float = 0.0
    checks: dict[str, float] = field(default_factory=dict)
    dev: dict[str, float] = field(default_factory=dict)  # candidate -> dev retention
    # candidate -> dev known-item recall@10 through it (the choice; see _choose)
    dev_known_item: dict[str, float] = field(default_factory=dict)
    # test known-item recall@10: through the adapter over OLD's rows, and NEW's own
    known_item: dict[str, float] = field(default_factory=dict)
    sample_items: int = 0
    fit_rows: int = 0
    dev_items: int = 0
    test_items: int = 0
    embed_seconds: float = 0.0
    fit_seconds: float = 0.0
    min_retention: float = DEFAULT_MIN_RETENTION
    accepted: bool = False
    # The same test queries with no adapter at all (NEW's vectors searched as if OLD's),
    # when the dimensions agree: what the adapter adds.
    unadapted: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Sample:
    """The sampled items embedded by NEW, and the row pairs (NEW row, OLD row) among them."""

    owners: list[StoredItem]  # one per NEW row (all of them: kept as backfilled rows)
    vectors: np.ndarray  # NEW's rows
    new_rows: np.ndarray  # paired rows: NEW's ...
    old_rows: np.ndarray  # ... and OLD's for the same item and part
    owner: np.ndarray  # item number of each paired row
    items: list[StoredItem]  # item number -> item
    seconds: float = 0.0


def _sample(
    store: LanceStore, old: EncoderInfo, new: Encoder, n: int, rng: np.random.Generator
) -> _Sample:
    view = store.vectors(old.key)
    ids = sorted(set(view.ids.tolist()))
    chosen = sorted(rng.choice(len(ids), min(n, len(ids)), replace=False).tolist())
    stored = list(store.get_items([ids[i] for i in chosen]).values())
    started = time.perf_counter()
    owners, vectors, _ = embed_stored(new, store, stored)
    seconds = time.perf_counter() - started
    row_of: dict[tuple[str, int], int] = {}
    for row in range(len(view)):
        part = int(view.part[row]) if view.part is not None else 0
        row_of.setdefault((str(view.ids[row]), part), row)
    seen: dict[str, int] = {}
    keep, old_rows = [], []
    for n_row, who in enumerate(owners):
        k = seen.get(who.id, 0)
        seen[who.id] = k + 1
        match = row_of.get((who.id, k))
        if match is not None:
            keep.append(n_row)
            old_rows.append(match)
    numbers: dict[str, int] = {}
    items: list[StoredItem] = []
    for i in keep:
        if owners[i].id not in numbers:
            numbers[owners[i].id] = len(items)
            items.append(owners[i])
    vectors = np.asarray(vectors, np.float32).reshape(len(owners), new.info.dim)
    return _Sample(
        owners=owners,
        vectors=vectors,
        new_rows=vectors[np.asarray(keep, dtype=np.int64)],
        old_rows=view.matrix[np.asarray(old_rows, dtype=np.int64)].reshape(-1, old.dim),
        owner=np.asarray([numbers[owners[i].id] for i in keep], dtype=np.int64),
        items=items,
        seconds=seconds,
    )


@dataclass
class _Check:
    """One kind of query to score an adapter on: query vectors (NEW's), the item each
    was taken from (left out of its results), and which corpus rows it searches."""

    name: str
    queries: np.ndarray
    exclude: np.ndarray
    rows: np.ndarray  # corpus rows searched (bool mask over the paired rows)


def _query_text(item: StoredItem) -> str:
    return " ".join(item.text.split()[:QUERY_WORDS])


def _spans(text: str, n: int = SPANS_PER_ITEM) -> list[str]:
    """Up to ``n`` spans of :data:`QUERY_WORDS` words spread over ``text``."""
    words = text.split()
    if len(words) < 4:
        return []
    starts = np.linspace(0, max(0, len(words) - QUERY_WORDS), num=n).astype(int)
    return [" ".join(words[i : i + QUERY_WORDS]) for i in dict.fromkeys(starts.tolist())]


def _middle_span(item: StoredItem) -> str:
    """A known-item query: :data:`QUERY_WORDS` words from the middle of the item's text."""
    words = item.text.split()
    start = max(0, len(words) // 2 - QUERY_WORDS // 2)
    return " ".join(words[start : start + QUERY_WORDS])


def _span_pairs(
    s: _Sample, members: np.ndarray, old: EncoderInfo, new: Encoder
) -> tuple[np.ndarray, np.ndarray]:
    """(NEW, OLD) query vectors of spans of items ``members``: what a search sends."""
    empty = np.zeros((0, new.info.dim), np.float32), np.zeros((0, old.dim), np.float32)
    if new.kind not in ("text", "image-text") or old.kind not in ("text", "image-text"):
        return empty
    per_item = max(1, min(SPANS_PER_ITEM, MAX_SPANS // max(1, len(members))))
    texts = [t for i in members for t in _spans(s.items[int(i)].text, per_item)][:MAX_SPANS]
    if not texts:
        return empty
    return new.embed_queries(texts), load_encoder(old.spec).embed_queries(texts)


def _known_queries(
    s: _Sample, new: Encoder, members: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """NEW's query vectors of a middle span of each of items ``members`` that has text,
    and those items (the answer of each); None without texts."""
    if new.kind not in ("text", "image-text"):
        return None
    chosen = [int(i) for i in members if len(s.items[int(i)].text.split()) >= QUERY_WORDS]
    if not chosen:
        return None
    return new.embed_queries([_middle_span(s.items[i]) for i in chosen]), np.asarray(chosen)


def _known_items(
    s: _Sample, known: tuple[np.ndarray, np.ndarray], adapter: Adapter
) -> tuple[float, float]:
    """(recall@10 of the item each query was taken from, through ``adapter`` over OLD's
    rows; the same with NEW's own rows), over the sampled items."""
    q, want = known
    return known_item_recall(q, s.old_rows, s.owner, want, adapter), known_item_recall(
        q, s.new_rows, s.owner, want
    )


def _checks(s: _Sample, new: Encoder, members: np.ndarray) -> list[_Check]:
    """The queries of held-out items ``members`` (item numbers), per kind of query."""
    all_rows = np.ones(len(s.owner), dtype=bool)
    texts = [int(i) for i in members if _query_text(s.items[i])]
    checks = []
    if new.kind == "text":
        q = new.embed_queries([_query_text(s.items[i]) for i in texts])
        return [_Check("text->text", q, np.asarray(texts), all_rows)]
    picture = np.asarray([s.items[i].modality in PICTURES for i in s.owner], dtype=bool)
    pictures = [int(i) for i in members if s.items[i].modality in PICTURES]
    if pictures:
        first = {int(i): r for r, i in reversed(list(enumerate(s.owner)))}
        q = s.new_rows[[first[i] for i in pictures]]  # an image query's vector is its row
        checks.append(_Check("image->image", q, np.asarray(pictures), picture))
    if texts and picture.any():
        q = new.embed_queries([_query_text(s.items[i]) for i in texts])
        checks.append(_Check("text->image", q, np.asarray(texts), picture))
    return checks


def _score(s: _Sample, checks: list[_Check], adapter: Adapter) -> dict[str, float]:
    out = {}
    for c in checks:
        rows = np.flatnonzero(c.rows)
        if len(c.queries) == 0 or len(rows) < 2:
            continue
        # Item numbers renumbered within the searched rows.
        _, owner = np.unique(s.owner[rows], return_inverse=True)
        lookup = {int(s.owner[r]): int(owner[n]) for n, r in enumerate(rows)}
        exclude = np.asarray([lookup.get(int(i), -1) for i in c.exclude], dtype=np.int64)
        out[c.name] = retention(
            c.queries, s.new_rows[rows], s.old_rows[rows], owner, adapter, exclude=exclude
        )
    return out


def _candidates(new: np.ndarray, old: np.ndarray) -> dict[str, Adapter]:
    found = {"procrustes": fit_procrustes(new, old)}
    for rank in RANKS:
        if rank >= min(new.shape[1], old.shape[1]):
            continue
        for ridge in RIDGES:
            name = f"low-rank-affine r={rank or 'full'} ridge={ridge:g}"
            found[name] = fit_low_rank_affine(new, old, rank=rank, ridge=ridge)
    return found


def _choose(
    s: _Sample, new: Encoder, dev: np.ndarray, candidates: dict[str, Adapter], report: UpgradeReport
) -> str:
    """The candidate to keep, by dev items: the known-item recall through it (what a
    search feels) where the items have text, then the top-10 agreement with NEW."""
    dev_checks = _checks(s, new, dev)
    report.dev = {
        name: min(_score(s, dev_checks, a).values(), default=0.0) for name, a in candidates.items()
    }
    queries = _known_queries(s, new, dev)  # embedded once for every candidate
    if queries is not None:
        report.dev_known_item = {
            name: _known_items(s, queries, a)[0] for name, a in candidates.items()
        }
    return max(
        report.dev,
        key=lambda n: (report.dev_known_item.get(n, 0.0), report.dev[n], n == "procrustes"),
    )


def _split(n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    order = rng.permutation(n_items)
    n_test = max(1, n_items // 5)
    return order[2 * n_test :], order[n_test : 2 * n_test], order[:n_test]


def fit_adapter(
    store: LanceStore,
    old: EncoderInfo,
    new: Encoder,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
) -> tuple[Adapter, UpgradeReport, _Sample]:
    """Sample, embed, fit, pick on dev, score on test (see the module docstring)."""
    rng = np.random.default_rng(seed)
    s = _sample(store, old, new, sample, rng)
    report = UpgradeReport(old.spec, new.info.spec, sample_items=len(s.items))
    if len(s.items) < 10:
        raise ConfigError(
            f"upgrade {old.spec} -> {new.info.spec}: only {len(s.items)} items are embedded by "
            "both, too few to fit an adapter",
            hint="index more items first, or add NEW with `polyseek encoders add NEW`",
        )
    fit, dev, test = _split(len(s.items), rng)
    fit_rows = np.isin(s.owner, fit)
    started = time.perf_counter()
    span_new, span_old = _span_pairs(s, fit, old, new)
    report.embed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    candidates = _candidates(
        np.vstack([s.new_rows[fit_rows], span_new]), np.vstack([s.old_rows[fit_rows], span_old])
    )
    report.fit_seconds = time.perf_counter() - started
    best = report.chosen = _choose(s, new, dev, candidates, report)
    adapter = candidates[best]
    test_checks = _checks(s, new, test)
    report.checks = _score(s, test_checks, adapter)
    report.retention = min(report.checks.values(), default=0.0)
    test_queries = _known_queries(s, new, test)
    if test_queries is not None:
        adapted, own = _known_items(s, test_queries, adapter)
        report.known_item = {"adapter": adapted, "new": own}
    if new.info.dim == old.dim:
        same = Adapter("none", np.eye(old.dim, dtype=np.float32), np.zeros(old.dim, np.float32))
        report.unadapted = min(_score(s, test_checks, same).values(), default=0.0)
    report.method, report.rank = adapter.method, adapter.rank
    report.ridge = float(best.rpartition("ridge=")[2]) if "ridge=" in best else 0.0
    report.fit_rows = int(fit_rows.sum()) + len(span_new)
    report.dev_items, report.test_items = len(dev), len(test)
    report.embed_seconds += s.seconds
    return adapter, report, s


def upgrade_encoder(
    collection: Collection,
    old_spec: str,
    new_spec: str,
    *,
    sample: int = DEFAULT_SAMPLE,
    min_retention: float = DEFAULT_MIN_RETENTION,
    keep_old: bool = False,
    seed: int = 0,
) -> UpgradeReport:
    """Fit and record the adapter OLD <- NEW and start NEW's backfill (see the module
    docstring); raises :class:`UpgradeRefusedError` (nothing changed) below the threshold."""
    store = lance_store(collection)
    store.reload_manifest()
    old = recorded(store.manifest, old_spec)
    new = load_encoder(new_spec)
    _check_pair(store, old, new.info)
    with backfill_lock(store):
        adapter, report, s = fit_adapter(store, old, new, sample=sample, seed=seed)
        report.min_retention = min_retention
        logger.info(
            "adapter %s -> %s: %s, retention %.3f",
            new.info.spec,
            old.spec,
            report.method,
            report.retention,
        )
        if report.retention < min_retention:
            raise UpgradeRefusedError(report)
        rel = f"{LIFECYCLE_DIR}/adapter-{new.info.key}-{old.key}.npz"
        lifecycle_dir(store)
        with writing_when_free(store):
            cleanup(store)
            m = store.manifest
            adapter.save(store.path / rel)
            record = AdapterRecord(
                old.spec, new.info.spec, adapter.method, rel, report.retention, keep_old
            )
            store.set_manifest(
                replace(
                    m,
                    encoders=(*m.encoders, new.info),
                    backfilling=(*m.backfilling, new.info.spec),
                    adapters=(*m.adapters, record),
                )
            )
            write_rows(store, new.info, s.owners, s.vectors)  # the backfill's first batch
        report.accepted = True
    return report


def _check_pair(store: LanceStore, old: EncoderInfo, new: EncoderInfo) -> None:
    m = store.manifest
    if any(e.spec == new.spec for e in m.encoders):
        raise ConfigError(f"the index already has encoder {new.spec!r}")
    if any(a.old == old.spec or a.new == old.spec for a in m.adapters) or old.spec in m.backfilling:
        raise ConfigError(
            f"{old.spec} is already being upgraded or backfilled",
            hint="`polyseek encoders status` shows how far; `polyseek encoders backfill` "
            "finishes it",
        )
    if old.kind != new.kind or old.kind not in ("text", "image-text"):
        raise ConfigError(
            f"cannot upgrade {old.spec} ({old.kind}) to {new.spec} ({new.kind}): an adapter "
            "maps between single-vector encoders of the same kind (text or image-text)",
            hint="add it as another encoder instead: `polyseek encoders add SPEC`",
        )


__all__ = [
    "DEFAULT_MIN_RETENTION",
    "DEFAULT_SAMPLE",
    "UpgradeRefusedError",
    "UpgradeReport",
    "fit_adapter",
    "upgrade_encoder",
]
