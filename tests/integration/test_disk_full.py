"""A full disk during a first index and during an update: a clear message naming the
store, a clean exit (code 2), and an index that still reads (issue 15, item 3).

The store lives on a small tmpfs mounted in a private mount namespace (``unshare -m``),
so nothing outside the test sees the mount and it vanishes with the process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow

DRIVER = r"""
import json, shutil, subprocess, sys
from pathlib import Path
from typer.testing import CliRunner
from polyseek.cli.app import app

root, store, size_kb, first = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(store)], check=True)
runner = CliRunner()
out = {}
def run(name, *args):
    r = runner.invoke(app, list(args))
    out[name] = {"code": r.exit_code, "output": r.stdout + r.stderr,
                 "crash": None if r.exception is None or isinstance(r.exception, SystemExit)
                 else repr(r.exception)}
if first == "update":
    papers = sorted((root / "papers").iterdir())
    aside = root.parent / "aside"
    aside.mkdir()
    for p in papers[3:]:
        p.rename(aside / p.name)
    run("small", "index", str(root), "--store", str(store))
    for p in aside.iterdir():
        p.rename(root / "papers" / p.name)
run("full", "index", str(root), "--store", str(store))
run("status", "status", "-c", str(root), "--store", str(store), "--json")
run("search", "search", "vision language", "-c", str(root), "--store", str(store), "--json")
print("RESULT" + json.dumps(out))
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare -m and mount (root)")
@pytest.mark.parametrize("when, size_kb", [("first index", 280), ("update", 420)])
def test_disk_full_says_so_and_the_index_stays_readable(tmp_path, when, size_kb):
    root = tmp_path / "collection"
    (root / "papers").mkdir(parents=True)
    for p in sorted((SAMPLE / "papers").iterdir())[:40]:
        shutil.copy2(p, root / "papers" / p.name)
    store = tmp_path / "store"
    store.mkdir()
    mode = "update" if when == "update" else "first"
    proc = subprocess.run(
        ["unshare", "-m", sys.executable, "-c", DRIVER, str(root), str(store), str(size_kb), mode],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    if mode == "update":
        assert out["small"]["code"] == 0, out["small"]
    full = out["full"]
    assert full["crash"] is None, full
    assert full["code"] == 2, full
    text = full["output"]
    assert "no space left on the device" in text and str(store) in text, text
    assert "intact and readable" in text and "Traceback" not in text and ".rs:" not in text
    assert out["status"]["code"] == 0, out["status"]
    assert out["search"]["code"] == 0, out["search"]
    if mode == "update":  # what the first run committed is still there
        assert json.loads(out["status"]["output"])["sources"] >= 3
