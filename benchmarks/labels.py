"""Few-shot labels on real labels: which research listing each bundled paper came from.

The three listings (tests/fixtures/papers: contrastive, debiasing, few-shot) each hold
about 80 papers; a paper on more than one listing is left out (its label is ambiguous).
The papers (title + abstract, examples/sample-collection/papers) are indexed with MiniLM;
for k = 1, 3, 10 examples per class, drawn at random (10 draws), every method is trained
on the k x 3 examples and scored on all the other papers (held out; the classifier's own
settings are chosen by cross-validation inside the examples only):

  polyseek auto      `polyseek label train`: prototype or logistic by cross-validation
  prototype          nearest class mean (cosine), always
  logistic           logistic regression, always
  BM25-kNN           each test paper's text as a BM25 query over the examples (LanceDB
                     full-text search restricted to them): score-weighted vote of the top 3
  majority class     the most frequent class of the collection, for every paper

    .venv/bin/python benchmarks/labels.py [--draws 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from polyseek.engine import Engine  # noqa: E402
from polyseek.labels import fit_labels, item_features  # noqa: E402
from polyseek.samples import parse_listing, slugify  # noqa: E402
from polyseek.search.lexical import clean_query  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LISTINGS = REPO / "tests" / "fixtures" / "papers"
PAPERS = REPO / "examples" / "sample-collection" / "papers"
SHOTS = (1, 3, 10)


def labelled_papers() -> dict[str, str]:
    """paper file name -> listing, for papers on exactly one listing."""
    seen: dict[str, set[str]] = {}
    for listing in sorted(LISTINGS.glob("listing-*.txt")):
        name = listing.stem.removeprefix("listing-")
        for paper in parse_listing(listing.read_text(encoding="utf-8")):
            seen.setdefault(slugify(paper.title) + ".md", set()).add(name)
    return {f: next(iter(s)) for f, s in seen.items() if len(s) == 1 and (PAPERS / f).is_file()}


def bm25_knn(engine: Engine, texts: dict[str, str], train: list[str], label: dict[str, str],
             by_item: dict[str, str], test: list[str], k: int = 3) -> list[str]:  # fmt: skip
    train_items = [i for i, f in by_item.items() if f in set(train)]
    out = []
    for f in test:
        words = " ".join(clean_query(texts[f]).split()[:64])
        votes: Counter[str] = Counter()
        for item, score in engine.store.search_text(words, k, within=train_items):
            votes[label[by_item[item]]] += score
        out.append(votes.most_common(1)[0][0] if votes else "")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10)
    args = ap.parse_args()
    label = labelled_papers()
    counts = Counter(label.values())
    print(f"{len(label)} papers on exactly one listing: {dict(sorted(counts.items()))}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "papers"
        root.mkdir()
        for f in label:
            shutil.copy2(PAPERS / f, root / f)
        engine = Engine.open(root, create=True)
        t0 = time.perf_counter()
        engine.index()
        print(f"indexed in {time.perf_counter() - t0:.1f} s")
        t = engine.store.visible_items(["id", "source", "text"])
        by_item = dict(zip(t.column("id").to_pylist(), t.column("source").to_pylist(), strict=True))
        items_of: dict[str, list[str]] = {}
        for i, f in by_item.items():
            items_of.setdefault(f, []).append(i)
        texts = {f: (PAPERS / f).read_text(encoding="utf-8") for f in label}
        files = sorted(label)
        x = {f: item_features(engine.store, items_of[f]) for f in files}
        majority = counts.most_common(1)[0][0]
        table: dict[str, dict[int, list[float]]] = {}

        def record(name: str, k: int, acc: float) -> None:
            table.setdefault(name, {}).setdefault(k, []).append(acc)

        for k in SHOTS:
            for draw in range(args.draws):
                rng = np.random.default_rng(draw)
                train = []
                for c in sorted(counts):
                    pool = [f for f in files if label[f] == c]
                    train += list(rng.choice(pool, k, replace=False))
                test = [f for f in files if f not in set(train)]
                truth = np.asarray([label[f] for f in test])
                xt = np.vstack([x[f] for f in train])
                xs = np.vstack([x[f] for f in test])
                for name, method in (("polyseek auto", "auto"), ("prototype", "prototype"),
                                     ("logistic", "logistic")):  # fmt: skip
                    model = fit_labels(xt, [label[f] for f in train], method)
                    logits = xs @ model.weights[""].T + model.bias
                    pred = np.asarray(model.classes)[logits.argmax(axis=1)]
                    record(name, k, float((pred == truth).mean()))
                    if name == "polyseek auto":
                        record(f"  (chose {model.method})", k, 1.0)
                pred = bm25_knn(engine, texts, train, label, by_item, test)
                record("BM25-kNN (top 3)", k, float((np.asarray(pred) == truth).mean()))
                record("majority class", k, float((truth == majority).mean()))
    print(f"\naccuracy on the held-out papers, mean ± sd over {args.draws} draws of examples")
    print(f"{'method':<22}" + "".join(f"{f'{k} per class':>18}" for k in SHOTS))
    for name, row in table.items():
        if name.startswith("  (chose"):
            continue
        cells = []
        for k in SHOTS:
            v = row[k]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):>11.3f} ± {sd:.3f}")
        print(f"{name:<22}" + "".join(f"{c:>18}" for c in cells))
    chose = {n: len(r[SHOTS[-1]]) for n, r in table.items() if n.startswith("  (chose")}
    print(f"auto's choice at {SHOTS[-1]} per class: {chose}")


if __name__ == "__main__":
    main()
