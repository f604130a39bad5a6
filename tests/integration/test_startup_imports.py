"""What everyday commands import in a fresh process (issue 12: start-up).

Each command runs in its own interpreter, as ``python -m polyseek`` does, and reports which
heavy packages ended up in ``sys.modules``: ``--help`` and ``models`` load no model and
open no index, ``status`` opens the index without LanceDB's Python package (Lance reads
it) and loads no model, a cold ``search`` embeds its query on ONNX Runtime, without torch.
The seconds those imports cost are benchmarks/startup.py's business; this only checks
which packages load, which does not depend on how busy the machine is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polyseek.engine import Engine
from tests.conftest import SAMPLE

PROBE = """
import json, runpy, sys
out, names, args = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
sys.argv = ["polyseek", *args]
try:
    runpy.run_module("polyseek", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "loaded": [n for n in names if n in sys.modules]}, fh)
"""

MODEL_STACK = ("torch", "transformers", "sentence_transformers")
INDEX_STACK = ("lancedb", "lance", "pyarrow", "pandas")
QUERY_STACK = ("onnxruntime", "tokenizers")
DOCUMENTS = ("fitz", "pymupdf", "av", "tesserocr")
SERVER = ("fastapi", "uvicorn")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few papers, indexed, and searched once here (the ONNX export of MiniLM is then in
    the user cache, as it is after a first use)."""
    root = tmp_path_factory.mktemp("startup") / "collection"
    root.mkdir()
    for paper in sorted((SAMPLE / "papers").iterdir())[:4]:
        shutil.copy2(paper, root / paper.name)
    engine = Engine.open(root, create=True)
    assert engine.index().added == 4
    assert engine.search("contrastive learning").hits
    return root


def loaded_by(tmp_path: Path, *args: str) -> set[str]:
    """The watched packages in ``sys.modules`` after ``polyseek ARGS`` in a new process."""
    out = tmp_path / "modules.json"
    watched = [*MODEL_STACK, *INDEX_STACK, *QUERY_STACK, *DOCUMENTS, *SERVER]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), json.dumps(watched), *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    report = json.loads(out.read_text())
    assert report["code"] in (0, None), proc.stdout + proc.stderr
    return set(report["loaded"])


def test_help_imports_no_model_no_index_no_server(tmp_path):
    loaded = loaded_by(tmp_path, "--help")
    assert not loaded & {*MODEL_STACK, *INDEX_STACK, *QUERY_STACK, *DOCUMENTS, *SERVER}, loaded


def test_models_imports_no_model_and_no_index(tmp_path):
    loaded = loaded_by(tmp_path, "models")
    assert not loaded & {*MODEL_STACK, *INDEX_STACK, *QUERY_STACK, *DOCUMENTS, *SERVER}, loaded


def test_status_reads_the_index_through_lance_alone(tmp_path, indexed):
    loaded = loaded_by(tmp_path, "status", "-c", str(indexed))
    assert "lance" in loaded  # it did read the index
    assert not loaded & {*MODEL_STACK, "lancedb", *QUERY_STACK, *DOCUMENTS, *SERVER}, loaded


def test_cold_search_embeds_on_onnx_runtime_without_torch_or_lancedb(tmp_path, indexed):
    loaded = loaded_by(tmp_path, "search", "contrastive learning", "-c", str(indexed))
    assert {"lance", "onnxruntime"} <= loaded  # it did search, and embed the query
    assert not loaded & {*MODEL_STACK, "lancedb", *DOCUMENTS, *SERVER}, loaded
