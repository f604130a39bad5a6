"""MiniLM on ONNX Runtime against MiniLM on PyTorch, with the real packaged weights.

The export is made once per session into the session's ``$POLYSEEK_CACHE`` (conftest).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import _onnx
from polyseek.encoders.minilm import MiniLMEncoder
from polyseek.encoders.onnx_text import token_batches
from polyseek.errors import ConfigError

MIN_COSINE = 0.9999

TEXTS = [
    "pump",  # one word
    "how do I replace the filter",
    "The pump housing is bolted to the frame with four M8 bolts (torque: 25 N·m).",
    "",  # empty
    "   ",  # whitespace only
    "\n\t",
    "?!...",  # punctuation only
    "Ünïcödé façade naïve café — “quoted” and ‘single’",
    "日本語のテキストと中文文本",  # CJK: split per character by the BERT tokenizer
    "نص عربي من اليمين إلى اليسار",  # RTL
    "emoji 🙂🚀 and symbols ∑∫√ ©®",
    "MiXeD CaSe ShOuTiNg and numbers 3.14159 2026-12-01",
    "retrieval augmented generation " * 120,  # ~360 words: truncated at 256 tokens
    " ".join(f"token{i}" for i in range(400)),  # far past the limit, rare word pieces
]


@pytest.fixture(scope="module")
def torch_minilm() -> MiniLMEncoder:
    return MiniLMEncoder(onnx="off")


@pytest.fixture(scope="module")
def onnx_minilm() -> MiniLMEncoder:
    return MiniLMEncoder(onnx="auto")


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_both_paths_describe_the_same_encoder(
    torch_minilm: MiniLMEncoder, onnx_minilm: MiniLMEncoder
) -> None:
    assert onnx_minilm.query_runtime == "onnx"
    assert onnx_minilm.document_runtime == "onnx"
    assert torch_minilm.query_runtime == "torch" and torch_minilm.document_runtime == "torch"
    assert onnx_minilm.info == torch_minilm.info  # spec, revision, dim, metric: indexes match


def test_long_texts_really_exceed_the_token_limit(onnx_minilm: MiniLMEncoder) -> None:
    tokenizer = onnx_minilm.model.tokenizer
    assert len(tokenizer(TEXTS[-1])["input_ids"]) > 256
    assert len(tokenizer(TEXTS[-2])["input_ids"]) > 256


@pytest.mark.parametrize("role", ["queries", "documents"])
def test_vectors_equal_pytorch(
    role: str, torch_minilm: MiniLMEncoder, onnx_minilm: MiniLMEncoder
) -> None:
    expected = getattr(torch_minilm, f"embed_{role}")(TEXTS)
    got = getattr(onnx_minilm, f"embed_{role}")(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = _row_cosines(got, expected)
    assert cosines.min() >= MIN_COSINE, dict(zip(TEXTS, cosines.round(6), strict=True))


def test_vectors_equal_sentence_transformers_encode(onnx_minilm: MiniLMEncoder) -> None:
    """The reference recipe itself: SentenceTransformer.encode(normalize_embeddings=True)."""
    expected = onnx_minilm.model.encode(TEXTS, normalize_embeddings=True, batch_size=3)
    assert _row_cosines(onnx_minilm.embed_queries(TEXTS), expected).min() >= MIN_COSINE


def test_batches_equal_singles(onnx_minilm: MiniLMEncoder) -> None:
    batch = onnx_minilm.embed_documents(TEXTS)  # sorted by length inside, rows back in order
    singles = np.vstack([onnx_minilm.embed_documents([t]) for t in TEXTS])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    assert onnx_minilm.embed_queries([]).shape == (0, 384)
    with pytest.raises(ConfigError, match="single string"):
        onnx_minilm.embed_queries("a bare string")


def test_token_budget_batches_equal_one_big_batch(onnx_minilm: MiniLMEncoder) -> None:
    """Rows come back in input order whatever the batches (a budget of 64 tokens puts
    the long texts alone, the short ones together)."""
    onnx = onnx_minilm._onnx
    assert onnx is not None
    small = onnx.embed(TEXTS, batch_tokens=64)
    big = onnx.embed(TEXTS, batch_size=len(TEXTS), batch_tokens=10**6)
    np.testing.assert_allclose(small, big, atol=1e-5)


def test_token_batches_keep_rows_and_tokens_within_bounds() -> None:
    lengths = [3, 250, 40, 40, 10, 256, 9, 40]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = token_batches(order, lengths, max_rows=3, max_tokens=128)
    assert [i for b in batches for i in b] == order
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 128
    assert batches[-2:] == [[1], [5]]  # longer than half the budget: alone


def test_without_onnxruntime_it_falls_back_to_pytorch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    with caplog.at_level(logging.INFO, logger="polyseek.encoders._onnx"):
        encoder = MiniLMEncoder()
    assert encoder.query_runtime == "torch" and encoder.document_runtime == "torch"
    assert "onnxruntime is not available" in caplog.text
    assert encoder.embed_queries(["still works"]).shape == (1, 384)


def test_the_environment_turns_onnx_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYSEEK_ONNX", "0")
    assert MiniLMEncoder().query_runtime == "torch"


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("", "auto"),
        ("1", "auto"),
        ("AUTO", "auto"),
        ("fp32", "fp32"),
        ("0", "off"),
        ("off", "off"),
        ("false", "off"),
        ("no", "off"),
    ],
)
def test_mode_values(value: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYSEEK_ONNX", value)
    assert _onnx.onnx_mode() == mode
    assert _onnx.onnx_mode(value) == mode


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYSEEK_ONNX", "fast")
    with pytest.raises(ConfigError, match="auto, fp32, off"):
        MiniLMEncoder()


def _export_dir(cache: Path) -> Path:
    (directory,) = (cache / "onnx").glob("minilm-*")
    return directory


def _corrupt(directory: Path, how: str) -> None:
    model = directory / "model.onnx"
    if how == "truncated":  # e.g. a disk that filled up under someone else's copy
        with model.open("r+b") as f:
            f.truncate(model.stat().st_size // 2)
    elif how == "flipped":  # same size, different bytes: only the hash can tell
        data = bytearray(model.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
        model.write_bytes(bytes(data))
    elif how == "no-manifest":  # a copy interrupted before its manifest
        (directory / "manifest.json").unlink()
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "flipped", "no-manifest"])
def test_a_damaged_cache_is_detected_and_exported_again(
    how: str,
    onnx_minilm: MiniLMEncoder,
    onnx_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(_export_dir(onnx_cache), cache / "onnx" / _export_dir(onnx_cache).name)
    monkeypatch.setenv("POLYSEEK_CACHE", str(cache))
    _corrupt(_export_dir(cache), how)
    with caplog.at_level(logging.INFO, logger="polyseek.encoders._onnx"):
        encoder = MiniLMEncoder()
    assert encoder.query_runtime == "onnx"
    assert "exporting minilm" in caplog.text
    if how != "no-manifest":
        assert "unusable" in caplog.text
    manifest = json.loads((_export_dir(cache) / "manifest.json").read_text())
    assert (_export_dir(cache) / "model.onnx").stat().st_size == manifest["files"]["model.onnx"][
        "size"
    ]
    np.testing.assert_allclose(
        encoder.embed_queries(TEXTS), onnx_minilm.embed_queries(TEXTS), atol=1e-5
    )
    assert not [p for p in (cache / "onnx").iterdir() if p.name.startswith(".")]  # no debris


QUERY_SCRIPT = """
import json, sys
from polyseek.encoders import load_encoder
encoder = load_encoder("minilm")
vector = encoder.embed_queries(["how do I replace the filter"])
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"runtime": encoder.query_runtime, "heavy": heavy, "dim": vector.shape[1]}))
"""


def test_the_query_path_imports_no_torch(onnx_minilm: MiniLMEncoder, onnx_cache: Path) -> None:
    assert _export_dir(onnx_cache).is_dir()  # exported by the fixture: a later process is light
    env = {**os.environ, "POLYSEEK_CACHE": str(onnx_cache)}
    env.pop("POLYSEEK_ONNX", None)
    src = str(Path(__file__).resolve().parents[3] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", QUERY_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"runtime": "onnx", "heavy": [], "dim": 384}, out.stderr


def test_the_cache_lives_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POLYSEEK_CACHE", str(tmp_path / "c"))
    assert _onnx.cache_root() == tmp_path / "c"
    monkeypatch.delenv("POLYSEEK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _onnx.cache_root() == tmp_path / "xdg" / "polyseek"
