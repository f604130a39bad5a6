"""Shared fixtures: offline mode, the bundled sample collection, small collections."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# No model hub at test time: every model comes from a package or is made by the test.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "sample-collection"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert SAMPLE.is_dir(), "examples/sample-collection is missing: run scripts/build_sample.py"
    return SAMPLE


def copy_papers(dest: Path, n_papers: int) -> Path:
    """A text-only collection: the first ``n_papers`` paper files, under ``papers/``."""
    (dest / "papers").mkdir(parents=True, exist_ok=True)
    for p in sorted((SAMPLE / "papers").iterdir())[:n_papers]:
        shutil.copy2(p, dest / "papers" / p.name)
    return dest


def copy_small_collection(dest: Path, n_papers: int = 30) -> Path:
    """A small real collection: some paper files, the sample images and PDFs."""
    copy_papers(dest, n_papers)
    for sub in ("images", "pdfs"):
        shutil.copytree(SAMPLE / sub, dest / sub, dirs_exist_ok=True)
    return dest


@pytest.fixture
def small_collection(tmp_path: Path) -> Path:
    return copy_small_collection(tmp_path / "collection")
