"""Adding, upgrading and removing encoders of a live index (Python API, CLI, REST).

The index is built once with MiniLM; each test works on a copy. Added and upgraded
encoders are tiny random CLIPs loaded through the real ``clip:DIR`` path (two seeds:
two different models of the same shape, for the two-tower upgrade).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from polyseek.engine import Engine
from polyseek.errors import ConfigError
from polyseek.ingest import IngestOptions
from polyseek.lifecycle import UpgradeRefusedError
from polyseek.store.health import consistency
from polyseek.store.lancedb import LanceStore
from tests.conftest import copy_small_collection
from tests.helpers.cli import cli
from tests.helpers.tiny_models import make_tiny_clip

NO_OCR = IngestOptions(ocr=False)  # faster; what is indexed does not matter here


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("lifecycle")
    root = copy_small_collection(base / "c", n_papers=6)
    Engine.open(root, store=base / "index", create=True).index(options=NO_OCR)
    clips = (make_tiny_clip(base / "clip-a", seed=0), make_tiny_clip(base / "clip-b", seed=1))
    return root, base / "index", clips


@pytest.fixture
def index(built, tmp_path):
    """A fresh copy of the MiniLM index: (collection root, store path, (clip A, clip B))."""
    root, store, clips = built
    shutil.copytree(store, tmp_path / "index")
    return root, tmp_path / "index", clips


def visible_rows(store_path: Path, spec: str) -> Counter[tuple[str, int]]:
    """(item id, part) of every visible row of one encoder, with how often each occurs."""
    store = LanceStore.open(store_path)
    key = next(e.key for e in store.manifest.encoders if e.spec == spec)
    view = store.vectors(key)
    parts = view.part if view.part is not None else [0] * len(view)
    return Counter(zip(view.ids.tolist(), [int(p) for p in parts], strict=True))


def test_add_backfill_search_remove_through_the_api(index, tmp_path):
    root, store, (clip, _) = index
    spec = f"clip:{clip}"
    engine = Engine.open(root, store=store)
    info = engine.add_encoder(spec, backfill=False)
    state = next(e for e in engine.status().encoders if e["spec"] == spec)
    assert state["state"] == "backfilling"
    assert state["backfill"]["done"] == 0 and state["backfill"]["total"] > 10
    image = root / "images" / "pump-room-sign.jpg"
    assert engine.search(image=image).hits == []  # nothing embedded by it yet: no error
    # `polyseek check` does not call a backfill in progress damage.
    assert not [f for f in consistency(LanceStore.open(store)) if f.part == info.key]

    progress = engine.backfill()
    assert progress[0].complete
    assert next(e for e in engine.status().encoders if e["spec"] == spec)["state"] == "ready"
    hits = engine.search(image=image, calibrate=False).hits
    assert hits[0].source == "images/pump-room-sign.jpg"
    assert hits[0].score > 0.95  # the stored preview stands for the picture

    # The same rows as an index built with both encoders from the start: none missing,
    # none twice.
    fresh = tmp_path / "fresh"
    Engine.open(root, store=fresh, encoders=["minilm", spec], create=True).index(options=NO_OCR)
    backfilled = visible_rows(store, spec)
    assert backfilled == visible_rows(fresh, spec)
    assert max(backfilled.values()) == 1

    engine.remove_encoder(spec)
    assert [e["spec"] for e in engine.status().encoders] == ["minilm"]
    assert info.key not in LanceStore.open(store).vector_tables()
    with pytest.raises(ConfigError, match="only encoder"):
        engine.remove_encoder("minilm")


def test_add_status_remove_through_the_cli(index):
    root, store, (clip, _) = index
    spec = f"clip:{clip}"
    code, out, err = cli("encoders", "add", spec, "--store", str(store))
    assert code == 0, err
    assert "added" in out and "complete" in out
    code, out, _ = cli("encoders", "status", "--store", str(store), "--json")
    states = {r["spec"]: r["state"] for r in json.loads(out)}
    assert states == {"minilm": "ready", spec: "ready"}
    code, out, _ = cli("status", "--store", str(store), "--json")
    assert {e["spec"] for e in json.loads(out)["encoders"]} == {"minilm", spec}
    code, _, err = cli("encoders", "add", spec, "--store", str(store))
    assert code == 2 and "already has encoder" in err
    code, out, err = cli("encoders", "remove", spec, "--store", str(store))
    assert code == 0, err
    code, _, err = cli("encoders", "remove", "nope", "--store", str(store))
    assert code == 2 and "has no encoder 'nope'" in err and "minilm" in err


def test_searching_while_the_backfill_runs(index):
    root, store, (clip, _) = index
    spec = f"clip:{clip}"
    engine = Engine.open(root, store=store)
    engine.add_encoder(spec, backfill=False)
    from polyseek.lifecycle.jobs import BackfillThread

    job = BackfillThread(engine.collection, batch_items=2).start()
    partial = searches = 0
    image = root / "images" / "pump-room-sign.jpg"
    while job.running:
        assert engine.search("pump room", top=5).hits
        engine.search(image=image, top=5)
        searches += 1
        b = next(e for e in engine.status().encoders if e["spec"] == spec).get("backfill")
        partial += bool(b and 0 < b["done"] < b["total"])
    job.join()
    assert searches >= 1 and partial >= 1
    assert engine.search(image=image, calibrate=False).hits[0].source.endswith("pump-room-sign.jpg")


def test_two_tower_upgrade_then_switch(index):
    root, store, (clip_a, clip_b) = index
    a, b = f"clip:{clip_a}", f"clip:{clip_b}"
    engine = Engine.open(root, store=store)
    engine.add_encoder(a)
    report = engine.upgrade_encoder(a, b, backfill=False, min_retention=0.0)
    assert set(report.checks) == {"image->image", "text->image"}
    assert report.accepted and report.test_items > 0
    states = {e["spec"]: e for e in engine.status().encoders}
    assert states[a]["state"] == "upgrading" and states[b]["state"] == "backfilling"
    assert states[b]["adapter"]["old"] == a
    # Queries use B through the adapter, scored against A's vectors (signal named A).
    image = root / "images" / "pump-room-sign.jpg"
    hits = engine.search(image=image, calibrate=False, lexical=False).hits
    assert hits and set(hits[0].signals) == {a}

    engine.backfill()
    m = LanceStore.open(store).manifest
    assert [e.spec for e in m.encoders] == ["minilm", b]
    assert m.adapters == () and m.backfilling == ()
    assert not list((store / "lifecycle").glob("*.npz"))
    hits = engine.search(image=image, calibrate=False, lexical=False).hits
    assert set(hits[0].signals) == {b} and hits[0].source.endswith("pump-room-sign.jpg")


def test_upgrade_refused_below_the_threshold_changes_nothing(index):
    root, store, (clip_a, clip_b) = index
    a, b = f"clip:{clip_a}", f"clip:{clip_b}"
    code, _, err = cli("encoders", "add", a, "--store", str(store))
    assert code == 0, err
    manifest = (store / "manifest.json").read_bytes()
    tables = LanceStore.open(store).vector_tables()
    code, out, err = cli(
        "encoders", "upgrade", a, b, "--store", str(store), "--min-retention", "0.99"
    )
    assert code == 2
    assert "refused" in err and "below the threshold 0.990" in err and "unchanged" in err
    assert (store / "manifest.json").read_bytes() == manifest
    assert LanceStore.open(store).vector_tables() == tables
    with pytest.raises(UpgradeRefusedError) as refused:
        Engine.open(root, store=store).upgrade_encoder(a, b, min_retention=0.99)
    assert refused.value.report.retention < 0.99


def test_upgrade_through_the_cli_backfills_and_switches(index):
    _, store, (clip_a, clip_b) = index
    a, b = f"clip:{clip_a}", f"clip:{clip_b}"
    assert cli("encoders", "add", a, "--store", str(store))[0] == 0
    code, out, err = cli(
        "encoders", "upgrade", a, b, "--store", str(store), "--min-retention", "0", "--keep-old"
    )
    assert code == 0, err
    assert "held-out recall@10 retention" in out and "complete" in out
    m = LanceStore.open(store).manifest
    assert [e.spec for e in m.encoders] == ["minilm", a, b]  # --keep-old
    code, _, err = cli("encoders", "upgrade", "minilm", b, "--store", str(store))
    assert code == 2 and "already has encoder" in err


def test_rest_add_status_upgrade_refused_and_remove(index):
    from fastapi.testclient import TestClient

    from polyseek.server import create_app

    root, store, (clip_a, clip_b) = index
    a, b = f"clip:{clip_a}", f"clip:{clip_b}"
    engine = Engine.open(root, store=store)
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as client:
        r = client.post("/api/encoders", json={"spec": a})
        assert r.status_code == 202, r.text
        assert {e["spec"] for e in r.json()["encoders"]} == {"minilm", a}
        for _ in range(600):  # the backfill runs in the server's background thread
            body = client.get("/api/encoders").json()
            if not body["backfill_running"]:
                break
            time.sleep(0.1)
        assert body["backfill_error"] is None
        assert {e["spec"]: e["state"] for e in body["encoders"]} == {"minilm": "ready", a: "ready"}
        status = client.get("/api/status").json()
        assert {e["spec"] for e in status["encoders"]} == {"minilm", a}
        r = client.post("/api/encoders/upgrade", json={"old": a, "new": b, "min_retention": 0.99})
        assert r.status_code == 400 and "refused" in r.json()["error"]["message"]
        assert client.delete("/api/encoders", params={"spec": a}).status_code == 200
        r = client.delete("/api/encoders", params={"spec": "minilm"})
        assert r.status_code == 400 and "only encoder" in r.text
