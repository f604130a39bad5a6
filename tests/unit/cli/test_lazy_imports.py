"""Commands that read no source file do not import the PDF stack (PyMuPDF: 1-1.5 s);
``--help`` imports neither numpy nor the store (LanceDB: 2.5 s) nor a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"

SCRIPT = """
import json, sys
from typer.testing import CliRunner
from polyseek.cli.app import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = [m for m in ("pymupdf", "fitz", "torch", "numpy", "lancedb") if m in sys.modules]
print(json.dumps({"code": result.exit_code, "heavy": heavy}))
"""


def run(*args: str) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_and_status_import_no_pdf_stack(tmp_path: Path) -> None:
    assert run("--help") == {"code": 0, "heavy": []}
    (tmp_path / "note.txt").write_text("lighthouse keepers log the weather", encoding="utf-8")
    assert run("index", str(tmp_path))["code"] == 0
    status = run("status", "-c", str(tmp_path))
    assert status["code"] == 0 and "pymupdf" not in status["heavy"]  # type: ignore[operator]
    assert "torch" not in status["heavy"]  # type: ignore[operator]


def test_a_pdf_is_still_read_through_the_lazy_loader() -> None:
    from polyseek.ingest import LOADERS, PdfLoader

    assert LOADERS.resolve("pdf") is PdfLoader
