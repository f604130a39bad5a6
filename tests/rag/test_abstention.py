"""Abstention: on-topic questions the collection does not answer get "no answer", not a
nearby sentence. (The threshold itself is measured in benchmarks/answers.py; these
questions are not in its set.)"""

from __future__ import annotations

import pytest

from polyseek.rag import NO_ANSWER, OpenAIChatGenerator, ask
from tests.helpers.fake_chat import FakeChat


@pytest.mark.parametrize(
    "question",
    [
        "What is the noise level of the P-200 pump in decibels?",
        "Which optimizer was used to train Flamingo?",
        "How many GPUs were used to train M^2IXT?",
        "What is the warranty period of the P-200 pump?",
    ],
)
def test_on_topic_but_unanswered(listings_engine, question: str) -> None:
    answer = ask(listings_engine, question)
    assert not answer.answered, answer.to_dict()["sentences"]
    assert answer.text == NO_ANSWER and answer.sentences == []
    assert answer.evidence, "what was looked at is still reported"


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("How many housing bolts hold the P-200 pump housing?", "eight M8 housing bolts"),
        ("How much multimodal data is M^2IXT tuned on?", "50K multimodal data"),
    ],
)
def test_answered_when_a_sentence_holds_it(listings_engine, question: str, words: str) -> None:
    answer = ask(listings_engine, question)
    assert answer.answered and words in answer.sentences[0].text


def test_the_generator_is_not_asked_without_evidence(listings_engine) -> None:
    chat = FakeChat(lambda prompt: "It is 42 dB [1].")
    try:
        gen = OpenAIChatGenerator("m", chat.url)
        answer = ask(
            listings_engine, "What is the noise level of the P-200 pump in decibels?", generator=gen
        )
        assert not answer.answered and chat.requests == []
    finally:
        chat.close()
