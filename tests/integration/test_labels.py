"""Few-shot labels through the Engine, the CLI and REST, on a private copy of the mixed
served collection (labels are written beside its index)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from polyseek.engine import Engine
from polyseek.errors import ConfigError
from polyseek.labels import fit_labels
from tests.helpers.cli import cli
from tests.helpers.served import (
    KEYS_ENV,
    READ_KEY,
    Server,
    copy_collection,
    shared_collection,
)

PUMP = [
    "images/pump-room-sign.jpg",
    "images/pump-housing-exploded-view.png",
    "pdfs/p200-pump-maintenance-manual.pdf",
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    served = shared_collection(tmp_path_factory)
    return copy_collection(served, tmp_path_factory.mktemp("labels") / "collection")


def labels_of(root: Path) -> dict[str, tuple[str, float]]:
    import pyarrow.parquet as pq

    t = pq.read_table(root / ".polyseek" / "labels.parquet").to_pylist()
    return {r["id"]: (r["label"], r["label_prob"]) for r in t}


def papers(root: Path, n: int) -> list[str]:
    return sorted(f"papers/{p.name}" for p in (root / "papers").iterdir())[:n]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("path,label\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    return path


def test_train_labels_every_item_and_filters_read_them(root: Path, tmp_path: Path) -> None:
    engine = Engine.open(root)
    rows = [(p, "pump") for p in PUMP] + [(p, "paper") for p in papers(root, 3)]
    model = engine.train_labels(write_csv(tmp_path / "labels.csv", rows))
    assert model.classes == ["paper", "pump"]
    assert model.method in ("prototype", "logistic")
    assert model.cv_folds == 3 and model.cv_accuracy is not None
    assert np.asarray(model.confusion).sum() == 6
    assert sum(model.counts.values()) > 20  # every item with a vector, not just examples
    hits = engine.search("maintenance schedule", top=5, where="label = 'pump'").hits
    assert hits and all(not h.source.startswith("papers/") for h in hits)
    where = "label = 'paper' AND label_prob > 0.5"
    papers_only = engine.search("multimodal", top=5, where=where).hits
    stored = labels_of(root)
    assert len(papers_only) == 5
    assert all(stored[h.item_id][0] == "paper" and stored[h.item_id][1] > 0.5 for h in papers_only)
    assert sum(h.source.startswith("papers/") for h in papers_only) >= 4
    assert Engine.open(root).label_model() is not None


def test_new_files_are_labelled_when_indexed(root: Path, tmp_path: Path) -> None:
    engine = Engine.open(root)
    rows = [(p, "pump") for p in PUMP] + [(p, "paper") for p in papers(root, 3)]
    engine.train_labels(write_csv(tmp_path / "labels.csv", rows))
    new = root / "papers" / "pump-notes.md"
    new.write_text("# Pump notes\n\nReplace the intake filter cartridge of the P-200 pump "
                   "and tighten the housing bolts to 25 Nm.\n", encoding="utf-8")  # fmt: skip
    engine.index([new])
    hits = engine.search("pump notes intake filter", top=3, where="source = 'papers/pump-notes.md'")
    assert hits.hits
    item = hits.hits[0].item_id
    # labelled by the index run, not by training (which label: the tiny random CLIP of this
    # collection outvotes MiniLM here, so only that it has one is asserted)
    label, prob = labels_of(root)[item]
    assert label in ("pump", "paper") and 0.5 <= prob <= 1.0
    new.unlink()
    engine.index()


def test_folder_of_class_folders_with_outside_files(root: Path, tmp_path: Path) -> None:
    """Examples given as files outside the collection are embedded on the fly."""
    folder = tmp_path / "examples"
    classes = {
        "pumps": "centrifugal pump housing bolts impeller",
        "learning": "contrastive representation learning of images and text",
    }
    for cls, text in classes.items():
        (folder / cls).mkdir(parents=True)
        for n in range(2):
            (folder / cls / f"{n}.txt").write_text(f"{text} example {n}", encoding="utf-8")
    model = Engine.open(root).train_labels(folder)
    assert model.classes == ["learning", "pumps"] and model.examples == 4


def test_bad_label_files_name_the_problem(root: Path, tmp_path: Path) -> None:
    engine = Engine.open(root)
    with pytest.raises(ConfigError, match="need at least 2"):
        engine.train_labels(write_csv(tmp_path / "one.csv", [(PUMP[0], "pump")]))
    with pytest.raises(ConfigError, match="'nope.md'"):
        engine.train_labels(write_csv(tmp_path / "bad.csv", [("nope.md", "a"), (PUMP[0], "b")]))
    (tmp_path / "short.csv").write_text("path,label\nimages/x.jpg\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"short.csv:2"):
        engine.train_labels(tmp_path / "short.csv")


def test_one_example_per_class_is_not_cross_validated() -> None:
    x = np.eye(4, dtype=np.float32)[:2]
    model = fit_labels(x, ["a", "b"])
    assert model.cv_accuracy is None and model.method == "prototype"


def test_cross_validation_picks_a_method_that_fits() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    x = np.vstack([c + 0.3 * rng.normal(size=(6, 16)) for c in centres]).astype(np.float32)
    y = [c for c in "abc" for _ in range(6)]
    model = fit_labels(x, y)
    assert model.cv_folds == 5 and model.cv_accuracy is not None and model.cv_accuracy > 0.9
    assert set(model.candidates) == {"prototype", "logistic"}
    assert fit_labels(x, y, "logistic").method == "logistic"
    with pytest.raises(ConfigError, match="unknown label method"):
        fit_labels(x, y, "svm")


@pytest.mark.slow  # starts its own server (~15 s)
def test_cli_and_rest(root: Path, tmp_path: Path) -> None:
    rows = [(p, "pump") for p in PUMP] + [(p, "paper") for p in papers(root, 3)]
    csv = write_csv(tmp_path / "labels.csv", rows)
    code, out, err = cli("label", "train", str(csv), "-c", str(root))
    assert code == 0, err
    assert "cross-validated confusion" in out and "accuracy" in out
    code, out, _ = cli("label", "show", "-c", str(root), "--json")
    shown = json.loads(out)
    assert shown["classes"] == ["paper", "pump"] and shown["counts"]
    server = Server(root, env=KEYS_ENV)
    try:
        headers = {"X-API-Key": READ_KEY}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            r = client.get("/api/labels")
            assert r.status_code == 200 and r.json()["classes"] == ["paper", "pump"]
            params = {"q": "pump", "where": "label = 'pump'", "top": 4}
            hits = client.get("/api/search", params=params).json()["hits"]
            assert hits and all(not h["source"].startswith("papers/") for h in hits)
    finally:
        server.stop()
    code, out, _ = cli("label", "remove", "-c", str(root))
    assert code == 0 and "labels removed" in out
    code, _, err = cli("label", "show", "-c", str(root))
    assert code == 2 and "no labels yet" in err
    hits = Engine.open(root).search("pump", where="label = 'pump'").hits
    assert hits == []  # no labels: nothing has one
    shutil.rmtree(tmp_path, ignore_errors=True)
