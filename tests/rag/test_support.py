"""The generator's support check: each generated sentence must cite evidence whose
sentence supports it. The LLM is a fake endpoint on 127.0.0.1 (the boundary); the check
runs for real (MiniLM, the lexical and number checks, a tiny local NLI cross-encoder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from polyseek.errors import ConfigError
from polyseek.rag import OpenAIChatGenerator, ask
from polyseek.rag.base import Evidence
from polyseek.rag.evidence import text_encoder
from polyseek.rag.support import NliModel, SupportChecker
from polyseek.types import Locator
from tests.helpers.fake_chat import FakeChat, block_with
from tests.helpers.tiny_nli import make_tiny_nli

QUESTION = "How much multimodal data is M^2IXT tuned on?"
TRUE = "M^2IXT is tuned on as little as 50K multimodal data."
WRONG_NUMBER = "M^2IXT is tuned on as little as 500K multimodal data."
INVENTED = "The moon is made of green cheese and orbits Jupiter every Tuesday."
FLAMINGO = "Flamingo models are trained on large-scale multimodal web corpora."


def reply(prompt: str) -> str:
    m2ixt = block_with(prompt, "50K multimodal data")
    other = next(n for n in range(1, 20) if n != m2ixt and f"[{n}]" in prompt)
    return (
        f"{TRUE} [{other}][{m2ixt}] {WRONG_NUMBER} [{m2ixt}] {INVENTED} [{m2ixt}] "
        f"{FLAMINGO} [{m2ixt}] An uncited sentence about tuning."
    )


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat(reply)
    yield fake
    fake.close()


def test_unsupported_sentences_are_dropped_and_counted(listings_engine, chat) -> None:
    answer = ask(listings_engine, QUESTION, generator=OpenAIChatGenerator("m", chat.url))
    assert [s.text for s in answer.sentences] == [TRUE]
    kept = answer.sentences[0]
    # Only the citation whose sentence supports it is kept, with that sentence's span.
    by_id = {e.id: e for e in answer.evidence}
    [span] = kept.spans
    assert kept.citations == (span.evidence_id,) and "50K" in by_id[span.evidence_id].text
    assert "50K multimodal data" in span.text
    cited = by_id[span.evidence_id]
    assert span.locator.char_start == cited.locator.char_start + span.item_start
    assert " ".join(cited.text[span.item_start : span.item_end].split()) == span.text
    # A changed number, an invented claim, a true sentence citing the wrong evidence and
    # an uncited sentence are all dropped, and counted.
    assert [s.text for s in answer.dropped] == [
        WRONG_NUMBER,
        INVENTED,
        FLAMINGO,
        "An uncited sentence about tuning.",
    ]
    assert all(not s.supported and not s.spans for s in answer.dropped)
    body = answer.to_dict()
    assert body["dropped_count"] == 4 and body["sentences"][0]["spans"][0]["text"] == span.text
    json.dumps(body)


def evidence(text: str, id_: int = 1) -> Evidence:
    return Evidence(
        id_, f"i{id_}", "papers/x.md", "text", Locator(char_start=100, char_end=900), text, 1.0
    )


ABSTRACT = (
    "To address these challenges, we introduce MultiModal In-conteXt Tuning (M^2IXT), a "
    "lightweight module. When tuned on as little as 50K multimodal data, M^2IXT can boost "
    "the few-shot ICL performance significantly. It is considerably small in parameters."
)


def test_numbers_words_and_meaning_decide_support(listings_engine) -> None:
    checker = SupportChecker(text_encoder(listings_engine))
    e = evidence(ABSTRACT)
    good = checker.check(TRUE, [e])
    assert good.spans and good.score >= checker.threshold and good.missing_numbers == ()
    assert good.spans[0].locator == Locator(
        char_start=100 + good.spans[0].item_start, char_end=100 + good.spans[0].item_end
    )
    wrong = checker.check(WRONG_NUMBER, [e])
    assert not wrong.spans and wrong.missing_numbers == ("500k",) and wrong.score == 0.0
    assert not checker.check(INVENTED, [e]).spans


@pytest.fixture(scope="module")
def nli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_nli(tmp_path_factory.mktemp("nli") / "tiny-nli")


def test_nli_model_gates_support(listings_engine, nli_dir: Path) -> None:
    nli = NliModel(str(nli_dir))
    premises, hypotheses = [ABSTRACT, "Cats purr."], [TRUE, TRUE]
    probs = nli.entailment(premises, hypotheses)
    assert probs.shape == (2,) and np.all((probs > 0) & (probs < 1))
    # The same probability as the model's own softmax over its labels.
    direct = nli.model.predict(list(zip(premises, hypotheses, strict=True)), apply_softmax=True)
    assert np.allclose(probs, np.asarray(direct)[:, nli.entail_index], atol=1e-5)
    encoder = text_encoder(listings_engine)
    e = evidence(ABSTRACT)
    lenient = SupportChecker(encoder, nli=nli, nli_threshold=0.0).check(TRUE, [e])
    assert lenient.spans and lenient.entailment is not None
    strict = SupportChecker(encoder, nli=nli, nli_threshold=1.0).check(TRUE, [e])
    assert not strict.spans  # no random model is that sure: the claim is dropped


def test_ask_takes_an_nli_model(listings_engine, chat, nli_dir: Path) -> None:
    answer = ask(
        listings_engine, QUESTION, generator=OpenAIChatGenerator("m", chat.url), nli=str(nli_dir)
    )
    # The random model's P(entailment) stays near 1/3, under the default 0.5: with it in
    # the loop even the true sentence is dropped; without it (above) the same one is kept.
    assert not answer.answered and len(answer.dropped) == 5
    assert TRUE in [s.text for s in answer.dropped]


def test_nli_model_without_entailment_label_is_refused(tmp_path: Path) -> None:
    path = make_tiny_nli(tmp_path / "sentiment", labels={0: "negative", 1: "positive"})
    with pytest.raises(ConfigError, match="no entailment label"):
        NliModel(str(path))
    with pytest.raises(ConfigError, match="cannot load the NLI model"):
        NliModel(str(tmp_path / "missing"))
