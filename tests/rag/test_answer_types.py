"""The kind of answer a question asks for steers which sentence is quoted: a count of
what "how many X" asks about, a link for "where is the code available?". Real MiniLM,
real abstracts from the sample collection."""

from __future__ import annotations

import pytest

from polyseek.rag.base import Evidence
from polyseek.rag.evidence import text_encoder
from polyseek.rag.extractive import ExtractiveAnswerer
from polyseek.types import Locator
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def encoder(listings_engine):
    return text_encoder(listings_engine)


def abstract(name: str, id_: int) -> Evidence:
    path = SAMPLE / "papers" / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    return Evidence(id_, f"p{id_}", f"papers/{path.name}", "text", Locator(), text, 1.0)


def first_quote(encoder, question: str, *evidence: Evidence) -> str:
    answer = ExtractiveAnswerer(threshold=-5.0, max_sentences=1).answer(
        question, list(evidence), encoder
    )
    return answer.sentences[0].text


def test_how_many_quotes_the_sentence_that_counts_it(encoder) -> None:
    skillnet = abstract(
        "one-model-multiple-modalities-a-sparsely-activated-approach-for-text-sound-image", 1
    )
    quote = first_quote(
        encoder, "For how many modalities was the SkillNet model developed?", skillnet
    )
    assert "five modalities" in quote
    datatypes = abstract(
        "visual-data-type-understanding-does-not-emerge-from-scaling-vision-language", 2
    )
    question = "How many vision-language models were evaluated zero-shot?"
    assert "39 VLMs" in first_quote(encoder, question, datatypes)


def test_where_is_the_code_quotes_the_link(encoder) -> None:
    paper = abstract("debiasing-multimodal-models-via-causal-information-minimization", 1)
    question = (
        "Where is the code of the causal information minimization debiasing method available?"
    )
    assert "https://github.com/Vaidehi99/CausalInfoMin" in first_quote(encoder, question, paper)
