"""Fixtures for the encoder tests: tiny models built once per session, an empty hub cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyseek.encoders import _hub
from tests.helpers.tiny_models import make_tiny_clip, make_tiny_siglip


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP model + processor saved with save_pretrained (16-d, 32 px)."""
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP model + processor saved with save_pretrained (16-d, 32 px)."""
    return make_tiny_siglip(tmp_path_factory.mktemp("tiny-siglip"))


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
    monkeypatch.setattr(_hub, "_reachability", {})
    yield
