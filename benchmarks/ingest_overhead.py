"""Ingest overhead: indexing the bundled collection vs encoding its texts alone.

Both in one run, with the same loaded MiniLM model:
  baseline   SentenceTransformer.encode() over exactly the texts the index embeds
             (chunks, OCR text, page text), nothing else: no reading, OCR, writing
  polyseek   Engine.index() into a fresh store: scan, hash, parse, OCR, chunk, render
             previews, encode, write LanceDB tables, compact
The goal is polyseek <= 1.3x baseline: loading overlaps with encoding.

    .venv/bin/python benchmarks/ingest_overhead.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from polyseek.encoders import load_encoder  # noqa: E402
from polyseek.engine import Engine  # noqa: E402
from polyseek.indexing import scan  # noqa: E402
from polyseek.ingest import load_file  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-collection"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    enc = load_encoder("minilm")
    model = enc.model  # the SentenceTransformer itself
    texts = [
        it.text
        for p in scan(SAMPLE, [SAMPLE / ".polyseek"])
        for it in load_file(p, p.relative_to(SAMPLE).as_posix())
        if it.text.strip()
    ]
    model.encode(texts[:64], batch_size=64)  # warm-up
    baseline, ours, items = [], [], 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        baseline.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine.open(SAMPLE, store=Path(tmp) / "idx", create=True)
            t0 = time.perf_counter()
            report = engine.index()
            ours.append(time.perf_counter() - t0)
            items = report.items
    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"\ningest of examples/sample-collection: {items} items, {len(texts)} texts embedded")
    print(f"{'method':<46} {'median s':>9} {'x baseline':>11}")
    print(f"{'sentence-transformers encode() alone':<46} {b:>9.2f} {1.0:>11.2f}")
    print(f"{'polyseek index (load+OCR+encode+write)':<46} {o:>9.2f} {o / b:>11.2f}")
    print(
        f"runs: baseline {[round(x, 2) for x in baseline]}, polyseek {[round(x, 2) for x in ours]}"
    )


if __name__ == "__main__":
    main()
