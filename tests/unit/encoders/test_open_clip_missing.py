"""Without the open-clip extra, the open_clip backend fails with an install hint."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from polyseek.encoders import clear_encoder_cache, load_encoder
from polyseek.errors import ConfigError, MissingDependencyError

HINT = "pip install 'polyseek[open-clip]'"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_encoder_cache()


@pytest.mark.skipif(
    importlib.util.find_spec("open_clip") is not None, reason="open_clip is installed here"
)
def test_open_clip_absent_gives_install_hint() -> None:
    with pytest.raises(MissingDependencyError) as info:
        load_encoder("open_clip:ViT-B-32/laion2b_s34b_b79k")
    assert HINT in str(info.value)
    assert info.value.hint == HINT


@pytest.mark.parametrize("backend", ["open_clip", "open-clip"])
def test_open_clip_import_failure_gives_install_hint(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "open_clip", None)  # `import open_clip` now fails
    with pytest.raises(MissingDependencyError) as info:
        load_encoder(f"{backend}:ViT-B-32/laion2b_s34b_b79k")
    assert isinstance(info.value, ConfigError)  # one exception tree
    assert HINT in str(info.value)
