"""Model resolution: local paths, the hub cache, failing fast offline, fingerprints."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from polyseek import hub
from polyseek.encoders import clear_encoder_cache, load_encoder
from polyseek.errors import EncoderError
from tests.helpers.tiny_models import fake_hub_cache

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_encoder_cache()


def test_local_directory_resolves_to_itself(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    resolved = hub.resolve_model(str(tmp_path))
    assert resolved.local
    assert resolved.location == str(tmp_path)
    assert resolved.revision == hub.fingerprint(tmp_path)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="does not exist"):
        hub.resolve_model(str(tmp_path / "nope"))


def test_cached_hub_model_resolves_to_its_snapshot(empty_hub_cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "files"
    src.mkdir()
    (src / "config.json").write_text("{}")
    snapshot = fake_hub_cache(empty_hub_cache, "org/model", src, COMMIT)
    resolved = hub.resolve_model("org/model")
    assert resolved.local
    assert resolved.location == str(snapshot)
    assert resolved.revision == f"org/model@{COMMIT}"
    assert resolved.hub_name == "org/model"


def test_uncached_hub_name_offline_fails_fast(empty_hub_cache: Path) -> None:
    start = time.monotonic()
    with pytest.raises(EncoderError) as info:
        hub.resolve_model("org/not-cached", backend="clip")
    assert time.monotonic() - start < 1
    message = str(info.value)
    assert "org/not-cached" in message
    assert "offline" in message
    assert "huggingface-cli download org/not-cached" in message
    assert "clip:/path/to/model" in message


def test_offline_clip_hub_name_fails_within_seconds(empty_hub_cache: Path) -> None:
    from transformers import CLIPModel  # noqa: F401  (importing takes seconds: not timed here)

    start = time.monotonic()
    with pytest.raises(EncoderError) as info:
        load_encoder("clip:openai/clip-vit-base-patch32")
    assert time.monotonic() - start < 5
    assert "openai/clip-vit-base-patch32" in str(info.value)
    assert "huggingface-cli download" in str(info.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_hub_fails_fast(
    empty_hub_cache: Path, online_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on this loopback port: the connection is refused at once.
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert not hub.is_offline()
    start = time.monotonic()
    with pytest.raises(EncoderError) as info:
        load_encoder("clip:openai/clip-vit-base-patch32")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "openai/clip-vit-base-patch32" in message
    assert "unreachable" in message


def test_reachability_is_bounded_by_the_timeout(
    online_mode: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_connect(*args: object, **kwargs: object) -> socket.socket:
        time.sleep(5)
        raise OSError("too late")

    monkeypatch.setattr(socket, "create_connection", slow_connect)
    start = time.monotonic()
    reason = hub.unreachable_reason("https://hub.invalid", timeout=0.2)
    assert time.monotonic() - start < 2
    assert reason is not None and "no answer" in reason


def test_reachable_endpoint(online_mode: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert hub.unreachable_reason(f"http://127.0.0.1:{port}") is None


def test_offline_flags(monkeypatch: pytest.MonkeyPatch, online_mode: None) -> None:
    assert not hub.is_offline()
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert hub.is_offline()


def test_offline_mode_context_restores(online_mode: None) -> None:
    from huggingface_hub import constants

    with hub.offline_mode():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert constants.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ
    assert constants.HF_HUB_OFFLINE is False


def test_hub_cache_dir_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert hub.hub_cache_dir() == tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hub.hub_cache_dir() == tmp_path / "elsewhere"


def test_fingerprint_changes_with_content_not_with_time(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden": 32}')
    weights = model / "model.safetensors"
    weights.write_bytes(b"\0" * (3 << 20))  # 3 MiB: only its edges are read
    (model / ".gitattributes").write_text("ignored")
    first = hub.fingerprint(model)
    assert first.startswith("sha1:")

    os.utime(weights, (1, 1))  # touching does not change the model
    assert hub.fingerprint(model) == first

    (model / "config.json").write_text('{"hidden": 64}')
    changed_config = hub.fingerprint(model)
    assert changed_config != first

    data = bytearray(weights.read_bytes())
    data[-10] = 1  # a change in the last MiB
    weights.write_bytes(bytes(data))
    assert hub.fingerprint(model) != changed_config


def test_fingerprint_of_a_single_file(tmp_path: Path) -> None:
    ckpt = tmp_path / "w.pt"
    ckpt.write_bytes(b"abc")
    before = hub.fingerprint(ckpt)
    assert hub.fingerprint(str(ckpt)) == before
    ckpt.write_bytes(b"abd")
    assert hub.fingerprint(ckpt) != before
