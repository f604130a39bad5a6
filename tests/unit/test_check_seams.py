"""scripts/check_seams.py finds private reach-ins and import cycles, and src/ has none."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _checker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("check_seams", REPO / "scripts/check_seams.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_seams"] = module
    spec.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "src" / "polyseek" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "src"


def test_the_source_tree_is_clean() -> None:
    # In a fresh interpreter: CPython 3.11.7's ast.parse raises "SystemError: AST constructor
    # recursion depth mismatch" when another thread (Ray's, left by earlier tests) changes the
    # recursion state mid-parse. The check itself is what CI and `./run check` run anyway.
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts/check_seams.py"), str(REPO / "src")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_private_access_and_cycles_are_found(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/x.py": "from polyseek.b.y import helper\nfrom polyseek.b import _secret\n",
            "b/__init__.py": "",
            "b/y.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from polyseek.a.x import nothing\n"
                "def helper(store):\n    from polyseek.a.x import z\n    return store._table\n"
            ),
            "c/__init__.py": "",
            "c/m.py": "from polyseek.c.n import f\n",
            "c/n.py": "from polyseek.c.m import g\n",
        },
    )
    found = _checker().check(src)
    assert any("imports private _secret" in p for p in found)
    assert any("reaches into ._table" in p for p in found)
    assert any("cycle between subpackages a, b" in p for p in found)
    assert any("cycle between modules polyseek.c.m, polyseek.c.n" in p for p in found)
    assert len(found) == 4, found


def test_type_checking_imports_make_no_cycle(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "from polyseek.b import thing\n",
            "b/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from polyseek.a import other\nthing = 1\n",
        },
    )
    assert _checker().check(src) == []
