"""Fixtures for the encoder tests: tiny models built once per session.

ONNX exports go to a cache of this test session (``$POLYSEEK_CACHE``), never the user's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tiny_models import make_tiny_clip, make_tiny_siglip


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$POLYSEEK_CACHE`` for this session: ONNX exports are made once, here."""
    path = tmp_path_factory.mktemp("polyseek-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("POLYSEEK_CACHE", str(path))
    mp.delenv("POLYSEEK_ONNX", raising=False)
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP model + processor saved with save_pretrained (16-d, 32 px)."""
    return make_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP model + processor saved with save_pretrained (16-d, 32 px)."""
    return make_tiny_siglip(tmp_path_factory.mktemp("tiny-siglip"))
