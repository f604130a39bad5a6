"""An upgrade between two real encoders: MiniLM and MiniLM cut to its first 3 layers.

The second model is derived from the packaged weights (the only real ones here), saved
with sentence-transformers and loaded back as ``st:DIR``. The adapter is fitted on the
sampled items' rows and on short spans of their texts embedded by both encoders as
queries; the report says how often a passage still finds its own item through it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.ingest import IngestOptions
from tests.conftest import SAMPLE

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from upgrade import derive_minilm  # noqa: E402  (the benchmark's derivation, one copy)

pytestmark = pytest.mark.slow


def test_the_adapter_between_two_real_encoders_serves_short_queries(tmp_path: Path) -> None:
    root = tmp_path / "c"
    (root / "papers").mkdir(parents=True)
    for p in sorted((SAMPLE / "papers").iterdir())[:60]:
        shutil.copy2(p, root / "papers" / p.name)
    engine = Engine.open(root, store=tmp_path / "index", create=True)
    engine.index(options=IngestOptions(ocr=False))
    new = f"st:{derive_minilm(3, tmp_path / 'minilm-l3')}"
    report = engine.upgrade_encoder("minilm", new, backfill=False, min_retention=0.0)
    assert report.sample_items == 60 and report.fit_rows > 3 * report.sample_items  # + spans
    known = report.known_item
    assert set(known) == {"adapter", "new"} and known["new"] > 0.5
    # Through the adapter a passage still finds its item about as often as with NEW's
    # own vectors (0.96x on the 206 papers in benchmarks/upgrade.py).
    assert known["adapter"] >= 0.6 * known["new"]
    assert report.dev_known_item[report.chosen] == max(report.dev_known_item.values())
    hits = engine.search("contrastive language image pretraining", lexical=False).hits
    assert hits and set(hits[0].signals) == {"minilm"}  # NEW's query on OLD's vectors
