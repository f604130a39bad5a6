"""The CLI on a real small collection: index, search, status, remove, incremental runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.cli import cli

runner = CliRunner()


def index_json(collection: Path, *extra: str) -> dict:
    code, out, err = cli("index", str(collection), "--json", *extra)
    assert code in (0, 1), err
    return json.loads(out)


def status_json(collection: Path) -> dict:
    code, out, err = cli("status", "-c", str(collection), "--json")
    assert code == 0, err
    return json.loads(out)


def source_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and ".polyseek" not in p.parts]


def title_of(paper: Path) -> str:
    return paper.read_text(encoding="utf-8").strip().splitlines()[0].lstrip("# ").strip()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> Path:
    from tests.conftest import copy_small_collection

    root = copy_small_collection(tmp_path_factory.mktemp("cli") / "collection")
    report = index_json(root)
    assert report["failed"] == [], report
    assert report["added"] == len(source_files(root))
    return root


def search_json(root: Path, *args: str) -> dict:
    code, out, err = cli("search", *args, "-c", str(root), "--json")
    assert code == 0, err
    return json.loads(out)


def test_calibration_keeps_a_few_matching_images_above_many_texts(indexed):
    """30 papers (about 100 text chunks) and 6 images: the pump drawing and the manual page
    must stay on top when calibrated (per-modality statistics of 6 images alone once let
    unrelated papers take every place)."""
    for query, first in (
        ("pump housing O-ring", "images/pump-housing-exploded-view.png"),
        ("hearing protection in the pump room", "images/pump-room-sign.jpg"),
    ):
        raw = search_json(indexed, query, "--top", "3")["hits"]
        calibrated = search_json(indexed, query, "--top", "3", "--calibrate")["hits"]
        assert raw[0]["source"] == calibrated[0]["source"] == first
        assert calibrated[1]["modality"] in ("page", "image")


def test_title_finds_its_paper(indexed):
    papers = sorted((indexed / "papers").iterdir())
    for paper in papers[:5]:
        res = search_json(indexed, title_of(paper), "--top", "3")
        assert res["hits"][0]["source"] == f"papers/{paper.name}"
        hit = res["hits"][0]
        assert hit["modality"] == "text"
        assert hit["locator"]["char_start"] >= 0 and hit["locator"]["char_end"] > 0
        assert hit["snippet"]


def test_text_query_finds_words_inside_images_and_scans(indexed):
    res = search_json(indexed, "pump housing exploded view", "--modality", "image", "--top", "3")
    assert res["hits"], res
    assert all(h["modality"] == "image" for h in res["hits"])
    assert res["hits"][0]["source"].startswith("images/")
    assert res["hits"][0]["preview"] and Path(res["hits"][0]["preview"]).is_file()
    pages = search_json(indexed, "torque for the housing bolts", "--modality", "page")
    assert pages["hits"][0]["modality"] == "page"
    assert pages["hits"][0]["locator"]["page"] >= 1


def test_human_output_and_top(indexed):
    code, out, _ = cli(
        "search", "hallucination in vision language models", "-c", str(indexed), "-k", "2"
    )
    assert code == 0
    assert out.count("\n 1.") + out.startswith(" 1.") == 1 and " 2." in out and " 3." not in out


def test_status(indexed):
    code, out, _ = cli("status", "-c", str(indexed), "--json")
    assert code == 0
    st = json.loads(out)
    assert st["sources"] == len(source_files(indexed))
    assert st["failed"] == []
    assert {"text", "image", "page"} <= set(st["items"])
    assert st["encoders"][0]["spec"] == "minilm" and st["encoders"][0]["dim"] == 384


def test_incremental_runs(tmp_path):
    from tests.conftest import copy_small_collection

    root = copy_small_collection(tmp_path / "c", n_papers=6)
    first = index_json(root)
    n_files = first["added"]
    again = index_json(root)
    assert (again["added"], again["updated"], again["removed"]) == (0, 0, 0)
    assert again["unchanged"] == n_files
    papers = sorted((root / "papers").iterdir())
    papers[0].write_text("Completely new text about zebra migration patterns.\n", encoding="utf-8")
    papers[1].unlink()
    os.utime(papers[2])  # touched, same bytes
    (root / "papers" / "new.txt").write_text("A note on quantum gravity.", encoding="utf-8")
    third = index_json(root)
    assert (third["added"], third["updated"], third["removed"]) == (1, 1, 1)
    hits = search_json(root, "zebra migration")["hits"]
    assert hits[0]["source"] == f"papers/{papers[0].name}"
    assert all(
        h["source"] != f"papers/{papers[1].name}"
        for h in search_json(root, title_of(papers[2]), "-k", "50")["hits"]
    )


def test_remove_file_and_folder(tmp_path):
    from tests.conftest import copy_small_collection

    root = copy_small_collection(tmp_path / "c", n_papers=4)
    index_json(root)
    code, out, _ = cli("remove", str(root / "images"), "-c", str(root))
    assert code == 0 and "removed" in out
    res = search_json(root, "pump housing", "--modality", "image")
    assert res["hits"] == []
    code, _, err = cli("remove", str(root / "nope.txt"), "-c", str(root))
    assert code == 2 and "nothing indexed" in err
    # The collection itself would empty the index: refused unless --all says so.
    before = status_json(root)["sources"]
    code, _, err = cli("remove", str(root), "-c", str(root))
    assert code == 2 and "would empty the index" in err and "--all" in err
    assert status_json(root)["sources"] == before > 0
    code, out, _ = cli("remove", str(root), "-c", str(root), "--all")
    assert code == 0 and f"removed {before} sources" in out
    assert status_json(root)["sources"] == 0


def test_errors_are_clear(tmp_path):
    code, _, err = cli("search", "x", "-c", str(tmp_path))
    assert code == 2 and "no polyseek index" in err and "polyseek index DIR" in err
    code, _, err = cli("search", "-c", str(tmp_path))
    assert code == 2
    code, _, err = cli("index", str(tmp_path / "missing"))
    assert code == 2 and "no such folder" in err


def test_image_query_without_image_encoder_says_what_to_do(indexed, sample_dir):
    image = next((sample_dir / "images").iterdir())
    code, _, err = cli("search", "--image", str(image), "-c", str(indexed))
    assert code == 2 and "image-text encoder" in err and "--encoder" in err


def test_encoder_change_needs_rebuild(tmp_path):
    from tests.conftest import copy_small_collection

    root = copy_small_collection(tmp_path / "c", n_papers=2)
    index_json(root)
    code, _, err = cli("index", str(root), "--encoder", "st:/nonexistent/model")
    assert code == 2 and "--rebuild" in err


def test_entry_point_in_a_real_process(indexed):
    env = {**os.environ, "POLYSEEK_COLLECTION": str(indexed)}
    proc = subprocess.run(
        [sys.executable, "-m", "polyseek", "search", "visual contrastive optimization", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hits"]
