"""Prompt-and-rerank with a local transformers VLM: a tiny random LLaVA saved by the test."""

from __future__ import annotations

import pytest
from PIL import Image

from polyseek.errors import EncoderError
from polyseek.rerank import Candidate, load_reranker
from polyseek.rerank.mllm import TransformersVLMReranker
from tests.helpers.tiny_rerankers import make_tiny_vlm


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return load_reranker(f"mllm:{make_tiny_vlm(tmp_path_factory.mktemp('vlm'))}")


def test_scores_text_and_image_candidates(vlm, tmp_path):
    assert isinstance(vlm, TransformersVLMReranker)
    red, blue = tmp_path / "red.jpg", tmp_path / "blue.jpg"
    Image.new("RGB", (40, 30), (220, 10, 10)).save(red)
    Image.new("RGB", (40, 30), (10, 10, 220)).save(blue)
    cands = [
        Candidate("a", "text", "the pump housing needs 40 Nm"),
        Candidate("b", "image", "", image_path=red),
        Candidate("c", "image", "", image_path=blue),
    ]
    scores = vlm.score("pump torque", cands)
    assert len(scores) == 3 and all(0.0 < s < 1.0 for s in scores)
    # The pixels reach the model: two images with the same (empty) text score apart.
    assert scores[1] != scores[2]
    assert vlm.score("pump torque", cands) == scores  # deterministic


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderError, match="cannot load the vision-language model"):
        TransformersVLMReranker(str(tmp_path / "absent"))
