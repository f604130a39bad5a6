"""The offline answerer for real: MiniLM over a paper listing (known abstracts)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyseek.cli.app import app
from polyseek.errors import QueryError
from polyseek.rag import NO_ANSWER, ask
from polyseek.rag.defaults import DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("question", "abstract_words"),
    [
        ("How much multimodal data is M^2IXT tuned on?", "M^2IXT"),
        ("Which pretrained models does Flamingo bridge?", "Flamingo"),
        (
            "Which classical algorithm is applied to the classification of CLIP without training?",
            "Gaussian Discriminant Analysis",
        ),
    ],
)
def test_answer_cites_the_paper_that_holds_it(listings_engine, question, abstract_words) -> None:
    answer = ask(listings_engine, question)
    assert answer.answered and answer.method == "extractive"
    assert 1 <= len(answer.sentences) <= 2
    by_id = {e.id: e for e in answer.evidence}
    first = answer.sentences[0]
    cited = by_id[first.citations[0]]
    # The cited chunk of the listing is the one holding that paper's abstract, and the
    # sentence is quoted from it verbatim (modulo whitespace).
    assert abstract_words in cited.text
    assert first.text in " ".join(cited.text.split())
    assert cited.source.startswith("listings/") and cited.locator.char_start is not None
    for s in answer.sentences:
        assert s.citations and s.supported and s.support >= DEFAULT_THRESHOLD
        # The citation is the sentence itself: its characters in the listing file.
        [span] = s.spans
        source = (listings_engine.root / span.source).read_text(encoding="utf-8")
        assert " ".join(source[span.locator.char_start : span.locator.char_end].split()) == s.text


@pytest.mark.parametrize(
    "question",
    [
        "Who won the football world cup in 2014?",
        "How do I bake sourdough bread at home?",
        "What is the capital of France?",
    ],
)
def test_absent_answer_says_so(listings_engine, question) -> None:
    answer = ask(listings_engine, question)
    assert not answer.answered and answer.sentences == []
    assert answer.text == NO_ANSWER
    assert answer.evidence, "the evidence that was looked at is still reported"


def test_threshold_is_configurable(listings_engine) -> None:
    q = "How much multimodal data is M^2IXT tuned on?"
    assert not ask(listings_engine, q, threshold=5.0).answered
    assert ask(listings_engine, q, threshold=-1.0).answered


def test_page_answer_cites_the_page(listings_engine) -> None:
    answer = listings_engine.ask("How often should the intake filter cartridge be replaced?")
    assert answer.answered
    cited = answer.cited()[0]
    assert cited.source == "manuals/p200-pump-maintenance-manual.pdf"
    assert cited.modality == "page" and cited.locator.page is not None
    assert "500" in answer.sentences[0].text
    span = answer.sentences[0].spans[0]
    assert span.locator.page == cited.locator.page
    assert " ".join(cited.text[span.locator.char_start : span.locator.char_end].split()) == (
        answer.sentences[0].text
    )


def test_bad_questions(listings_engine) -> None:
    with pytest.raises(QueryError, match="empty"):
        ask(listings_engine, "   ")
    with pytest.raises(QueryError, match="top"):
        ask(listings_engine, "x", top=0)


def test_ask_cli(listings_engine) -> None:
    root = str(listings_engine.root)
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "How much multimodal data is M^2IXT tuned on?", "-c", root])
    assert result.exit_code == 0, result.output
    assert "[1]" in result.stdout or "[" in result.stdout
    assert "listings/" in result.stdout
    result = runner.invoke(app, ["ask", "What is the capital of France?", "-c", root, "--json"])
    body = json.loads(result.stdout)
    assert body["answered"] is False and body["text"] == NO_ANSWER
    result = runner.invoke(app, ["ask", "x", "-c", root, "--generator", "gpt4"])
    assert result.exit_code == 2 and "unknown generator" in result.stderr
