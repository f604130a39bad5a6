"""Fixtures for the ingest tests; file builders live in tests/helpers/ingest_files.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.ingest_files import bomb_png


@pytest.fixture(scope="session")
def bomb_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20000 x 20000 PNG (400 megapixels) of a few tens of kilobytes."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(bomb_png(20_000, 20_000))
    return path
