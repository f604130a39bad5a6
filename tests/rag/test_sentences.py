"""Sentence spans: every sentence keeps its characters in the item text, whatever its shape."""

from __future__ import annotations

import pytest

from polyseek.rag.lexical import (
    answer_type,
    focus,
    names,
    numbers,
    spells_out,
    states_count,
    terms,
)
from polyseek.rag.quality import ocr_quality, text_quality
from polyseek.rag.sentences import sentence_locator, split_sentences
from polyseek.types import Locator

PROSE = (
    "# Flamingo: a Visual Language Model\n\nWe introduce Flamingo, a family of models "
    "(e.g. for captioning). It was trained on web data, cf. Fig. 2 for details! Does it "
    "work? On numerous benchmarks, it outperforms fine-tuned models."
)
PAGE = (
    "2. Maintenance schedule\nTask\nInterval\nReplace the intake filter cartridge FC-40\n"
    "every 500 operating hours\nTighten the housing bolts to 25 Nm in a star (criss-cross) "
    "pattern, in two passes: first to 12 Nm,\nthen to the full 25 Nm. Never reuse a bolt "
    "whose thread is damaged.\n| Fastener | Torque |\n| --- | --- |\n| Housing bolts | 25 Nm |"
)
OCR = (
    "Intake filter cartridge FC-40\n\nFor P-200 pumps\nReplace every 500 operating hours\n\n"
    "Part no. 4471-FC40"
)


def collapse(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("text", [PROSE, PAGE, OCR])
def test_every_sentence_is_its_own_span(text: str) -> None:
    sentences = split_sentences(text)
    assert sentences
    for s in sentences:
        raw = collapse(text[s.start : s.end])
        # The span reads back the sentence (table rows keep their cells, " | "-joined).
        assert raw == s.text or raw.strip("| ").replace(" |", "") == s.text.replace(" |", "")
        assert not text[s.start].isspace() and not text[s.end - 1].isspace()
    starts = [s.start for s in sentences]
    assert starts == sorted(starts)


def test_prose_sentences_respect_abbreviations_and_skip_headings_markers() -> None:
    texts = [s.text for s in split_sentences(PROSE)]
    assert texts == [
        "Flamingo: a Visual Language Model",
        "We introduce Flamingo, a family of models (e.g. for captioning).",
        "It was trained on web data, cf. Fig. 2 for details!",
        "Does it work?",
        "On numerous benchmarks, it outperforms fine-tuned models.",
    ]
    first, second = split_sentences(PROSE)[:2]
    assert first.title_like and second.context == "Flamingo: a Visual Language Model"


def test_page_lines_table_cells_and_rows() -> None:
    texts = [s.text for s in split_sentences(PAGE)]
    # A table row wrapped over two lines is one sentence; stray cells are no sentence.
    assert "Replace the intake filter cartridge FC-40 every 500 operating hours" in texts
    assert "Task" not in texts and "Interval" not in texts
    assert any(
        t.startswith("Tighten the housing bolts to 25 Nm") and t.endswith("full 25 Nm.")
        for t in texts
    )
    assert "Housing bolts | 25 Nm" in texts  # a Markdown table row, its rule skipped


TABLE = (
    "Torque values\n| Fastener | Size | Torque |\n| --- | --- | --- |\n"
    "| Impeller nut | M12 | 40 Nm |\n| Filter cover screws | M6 | 10 Nm |\n"
    "Tighten the screws in a star pattern."
)


def test_table_rows_read_back_and_carry_their_header() -> None:
    sentences = split_sentences(TABLE)
    by_text = {s.text: s for s in sentences}
    row = by_text["Impeller nut | M12 | 40 Nm"]
    assert TABLE[row.start : row.end] == row.text  # no outer bars: it reads back as quoted
    assert not row.title_like and row.context == "Torque values: Fastener | Size | Torque"
    assert by_text["Fastener | Size | Torque"].title_like  # the header row titles the rows
    after = by_text["Tighten the screws in a star pattern."]
    assert after.context == "Torque values"  # the table's header ends with the table


def test_sections_run_from_a_title_to_the_next() -> None:
    text = "Flamingo\n\nWe introduce Flamingo. It bridges models.\n\nMMRL\n\nMMRL is a method."
    sentences = {s.text: s for s in split_sentences(text)}
    a, b = sentences["It bridges models."].section
    assert text[a:b].strip() == "Flamingo\n\nWe introduce Flamingo. It bridges models."
    a, b = sentences["MMRL is a method."].section
    assert text[a:b] == "MMRL\n\nMMRL is a method."


def test_ocr_labels_stand_alone() -> None:
    texts = [s.text for s in split_sentences(OCR)]
    assert texts == [
        "Intake filter cartridge FC-40",
        "For P-200 pumps",
        "Replace every 500 operating hours",
        "Part no. 4471-FC40",
    ]


def test_sentence_locator_narrows_the_item_locator() -> None:
    chunk = Locator(char_start=1000, char_end=1700)
    assert sentence_locator(chunk, 10, 60) == Locator(char_start=1010, char_end=1060)
    page = Locator(page=3)
    assert sentence_locator(page, 10, 60) == Locator(page=3, char_start=10, char_end=60)
    assert str(sentence_locator(page, 10, 60)) == "page 3, chars 10-60"
    moment = Locator(start_s=4.0, end_s=9.5)
    assert sentence_locator(moment, 0, 5).start_s == 4.0


def test_answer_types_focus_names_and_numbers() -> None:
    assert answer_type("How many bolts hold the housing?") == "number"
    assert answer_type("What torque do the housing bolts need?") == "number"
    assert answer_type("What is the part number of the filter?") == "code"
    assert answer_type("What does AGLA stand for?") == "expansion"
    assert answer_type("Which module does BECLR propose?") == "other"
    assert answer_type("For how many modalities was SkillNet developed?") == "number"
    assert answer_type("Where is the code of CausalInfoMin available?") == "link"
    assert answer_type("What is the project website of GOAT-Bench?") == "link"
    assert answer_type("Where is the pump room?") == "other"
    assert focus("What is the weight of the P-200 pump?") == {"weight"}
    assert focus("What learning rate is used to pretrain CoCa?") == {"learn", "rate"}
    # Words naming the kind of answer are not what the answer must mention.
    assert focus("What is the drawing number of the exploded view?") == {"draw"}
    assert focus("What is the street address of Harbor Hardware?") == {"street"}
    assert terms("fine-tuned models") & terms("it fine-tunes a model") == {
        "fine",
        "tune",
        "fine-tune",
        "model",
    }
    assert names("How many layers does the SOLO transformer have?") == ["SOLO"]
    assert numbers("It covers 163 languages, 22,000 hours, 50K pairs and M8 bolts") == {
        "163",
        "22000",
        "50k",
    }
    assert numbers("eight M8 housing bolts") == {"eight"}
    assert spells_out("AGLA", "we propose Assembly of Global and Local Attention (AGLA), a")
    assert spells_out("S-VCO", "we propose S-VCO (Symmetrical Visual Contrastive Optimization)")
    assert not spells_out("S-VCO", "S-VCO offers a significant enhancement (see below)")


def test_a_count_is_a_number_before_what_is_counted() -> None:
    q = "For how many modalities was the SkillNet model developed?"
    assert states_count(q, "We develop our model for five modalities including text and code.")
    assert not states_count(q, "In SkillNet, parts of the model serve different modalities.")
    assert not states_count(q, "SkillNet matches five modality-specific models.")
    # An acronym of the counted phrase counts too: "vision-language models" -> VLMs.
    q = "How many vision-language models were evaluated?"
    assert states_count(q, "A zero-shot evaluation of 39 VLMs shows a nuanced landscape.")
    assert not states_count(q, "Ten benchmarks, including VLM ones, were used.")
    assert not states_count("What is the weight of the pump?", "It weighs 12 kg.")


def test_ocr_quality_prefers_stored_confidences() -> None:
    garbled, clean = "TTTTATTHTTTH 4 Housing bolts M8, 25 Nm", "Housing bolts M8, 25 Nm"
    assert text_quality(garbled) < text_quality(clean) == 1.0
    assert ocr_quality({"ocr": True}, garbled, 0, len(garbled)) == text_quality(garbled)
    lines = {"ocr_lines": [[0, 10, 91.0], [11, 40, 42.0]], "ocr_confidence": 80}
    assert ocr_quality(lines, "x", 12, 30) == pytest.approx(0.42)
    assert ocr_quality(lines, "x", 0, 30) == pytest.approx(0.42)  # the worst line counts
    assert ocr_quality({"ocr_confidence": 80}, "x", 0, 1) == pytest.approx(0.8)
