"""Cross-encoder reranking with a tiny random model saved by the test (real loading code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyseek.errors import ConfigError, EncoderError
from polyseek.rerank import Candidate, load_reranker
from polyseek.rerank.cross_encoder import CrossEncoderReranker
from tests.helpers.tiny_rerankers import make_tiny_cross_encoder


@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory) -> Path:
    return make_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"))


CANDIDATES = [
    Candidate("a", "text", "pump housing bolts need 40 Nm of torque"),
    Candidate("b", "image", ""),  # an image without OCR text
    Candidate("c", "text", "the filter is replaced every six months"),
]


def test_loads_from_a_folder_and_scores_every_candidate(tiny_ce):
    reranker = load_reranker(f"cross-encoder:{tiny_ce}")
    assert isinstance(reranker, CrossEncoderReranker)
    assert reranker.name == f"cross-encoder:{tiny_ce}"
    scores = reranker.score("torque for the housing bolts", CANDIDATES)
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    # The text-less candidate cannot be judged by a text model: it goes last.
    assert scores[1] < min(scores[0], scores[2])
    # Deterministic.
    assert reranker.score("torque for the housing bolts", CANDIDATES) == scores


def test_missing_model_fails_fast_with_a_hint(tmp_path):
    with pytest.raises(EncoderError, match="cannot load the cross-encoder") as info:
        CrossEncoderReranker(str(tmp_path / "no-such-model"))
    assert "offline" in (info.value.hint or "")


def test_bad_specs():
    with pytest.raises(ConfigError, match="bad reranker spec"):
        load_reranker("cross-encoder")
    with pytest.raises(ConfigError, match="unknown reranker backend 'magic'") as info:
        load_reranker("magic:model")
    assert "cross-encoder" in (info.value.hint or "")
    with pytest.raises(ConfigError, match="MODEL@http"):
        load_reranker("mllm-endpoint:qwen")
