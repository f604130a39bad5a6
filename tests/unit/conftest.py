"""Fixtures shared by the unit tests: an empty model-hub cache, online mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyseek import hub


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HOME pointing at an empty directory; offline mode on (as in tests/conftest.py)."""
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home / "hub"


@pytest.fixture
def online_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Offline mode off (the test suite turns it on globally), reachability cache cleared."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub.forget_reachability()
    yield
    hub.forget_reachability()
