"""A damaged index: every command names the damaged part and says what to run;
`polyseek repair` brings it back to what a clean index of the same files gives."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.collection import Collection
from polyseek.engine import Engine
from polyseek.errors import DamagedIndexError
from polyseek.maintenance import check_index, repair_index
from tests.conftest import copy_small_collection
from tests.helpers.damage import CASES

pytestmark = pytest.mark.slow

QUERIES = ("vision language model", "masked modeling", "textbook")
runner = CliRunner()


def results(root: Path, store: Path) -> list[list[tuple[str, float]]]:
    engine = Engine.open(root, store=store)
    out = []
    for q in QUERIES:
        for lexical in (False, True):
            hits = engine.search(q, top=8, lexical=lexical).hits
            out.append([(h.item_id, round(h.score, 5)) for h in hits])
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """A small text collection, indexed in two runs (so tables have several versions)."""
    base = tmp_path_factory.mktemp("repair")
    root = copy_small_collection(base / "collection", n_papers=8)
    for sub in ("images", "pdfs"):
        shutil.rmtree(root / sub)
    later = sorted((root / "papers").iterdir())[-3:]
    for p in later:
        p.rename(base / p.name)
    store = base / "clean"
    Engine.open(root, store=store, create=True).index()
    for p in later:
        (base / p.name).rename(root / "papers" / p.name)
    assert Engine.open(root, store=store).index().added == 3
    return root, store, results(root, store)


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_repair_restores_a_clean_index(clean, tmp_path, case):
    root, clean_store, expected = clean
    store = tmp_path / "store"
    shutil.copytree(clean_store, store)
    damaged = CASES[case](store, random.Random(case))

    before = check_index(root, store=store)
    assert not before.ok, f"check did not notice {damaged}"

    report = repair_index(root, store=store)
    assert report.ok, report.to_dict()
    assert check_index(root, store=store).ok
    assert results(root, store) == expected


@pytest.mark.parametrize(
    "case, command",
    [
        ("items data truncated", "status"),
        ("sources data overwritten", "index"),
        ("vectors data truncated", "search"),
        ("full-text index truncated", "search"),
        ("vectors version manifest truncated", "status"),
    ],
)
def test_commands_name_the_damaged_table_and_the_fix(clean, tmp_path, case, command):
    root, clean_store, _ = clean
    store = tmp_path / "store"
    shutil.copytree(clean_store, store)
    CASES[case](store, random.Random(case))
    args = {
        "status": ["status", "-c", str(root), "--store", str(store)],
        "index": ["index", str(root), "--store", str(store)],
        "search": [
            "search",
            "vision language",
            "-c",
            str(root),
            "--store",
            str(store),
            "--lexical",
        ],
    }[command]
    code, output = cli(*args)
    assert code == 2, output
    assert "damaged" in output and "polyseek repair" in output, output
    assert "Traceback" not in output and ".rs:" not in output, output
    table = case.split()[0]
    assert (table if table != "vectors" else "v_") in output or "index" in output, output


def test_check_and_repair_commands(clean, tmp_path):
    root, clean_store, _ = clean
    store = tmp_path / "store"
    shutil.copytree(clean_store, store)
    code, output = cli("check", "-c", str(root), "--store", str(store))
    assert code == 0 and "intact" in output, output
    CASES["items data overwritten"](store, random.Random(1))
    code, output = cli("check", "-c", str(root), "--store", str(store))
    assert code == 1 and "items" in output and "polyseek repair" in output, output
    code, output = cli("repair", "-c", str(root), "--store", str(store))
    assert code == 0 and "repaired" in output, output
    assert "rolled back" in output and "re-indexed" in output, output


def test_rebuild_with_a_truncated_manifest(clean, tmp_path):
    """Item 2: `--rebuild` reads the encoders from the backup; without one it says how."""
    root, clean_store, expected = clean
    store = tmp_path / "store"
    shutil.copytree(clean_store, store)
    CASES["manifest.json truncated"](store, random.Random(2))
    code, output = cli("index", str(root), "--store", str(store), "--rebuild")
    assert code == 0, output
    assert results(root, store) == expected

    CASES["manifest.json truncated"](store, random.Random(3))
    (store / "manifest.backup.json").unlink()
    code, output = cli("index", str(root), "--store", str(store), "--rebuild")
    assert code == 2 and "--rebuild --encoder minilm" in output, output
    with pytest.raises(DamagedIndexError):
        Collection.open(root, store=store)
    code, output = cli("index", str(root), "--store", str(store), "--rebuild", "-e", "minilm")
    assert code == 0, output


@pytest.mark.parametrize("case", ["full-text index truncated", "full-text index overwritten"])
def test_a_plain_index_run_rebuilds_a_damaged_full_text_index(clean, tmp_path, case):
    """The full-text index is derived data: `index` rebuilds it instead of keeping it."""
    root, clean_store, expected = clean
    store = tmp_path / "store"
    shutil.copytree(clean_store, store)
    CASES[case](store, random.Random(case))
    code, output = cli("index", str(root), "--store", str(store))
    assert code == 0, output
    assert results(root, store) == expected
    assert check_index(root, store=store).ok
