"""A paper listing plus the pump manual, indexed with MiniLM (one listing keeps it fast)."""

from __future__ import annotations

import shutil

import pytest

from polyseek.engine import Engine
from tests.conftest import FIXTURES, SAMPLE


@pytest.fixture(scope="session")
def listings_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("listings") / "collection"
    (root / "listings").mkdir(parents=True)
    shutil.copy2(FIXTURES / "papers" / "listing-fewshot.txt", root / "listings")
    (root / "manuals").mkdir()
    shutil.copy2(SAMPLE / "pdfs" / "p200-pump-maintenance-manual.pdf", root / "manuals")
    engine = Engine.open(root, create=True)
    report = engine.index()
    assert report.failed == [], report.failed
    return engine
