"""chunk_text: bounded, sentence-aware, overlapping spans that cover the whole text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from polyseek.errors import ConfigError
from polyseek.ingest import chunk_text
from polyseek.samples import load_papers

PAPERS = Path(__file__).resolve().parents[2] / "fixtures" / "papers"
WORDS = "pump housing bolt torque filter seal impeller retrieval image model a of the".split()


def random_text(rng: random.Random, n_sentences: int) -> str:
    parts = []
    for _ in range(n_sentences):
        n = rng.choice([1, 3, 8, 20, 60, 150])
        sentence = " ".join(rng.choice(WORDS) for _ in range(n))
        end = rng.choice([". ", "! ", "? ", ".\n", ".\n\n", " ", "\n", ".  \t"])
        parts.append(sentence.capitalize() + end)
    if rng.random() < 0.2:
        parts.insert(rng.randrange(len(parts) + 1), "x" * rng.randrange(1, 2500) + " ")
    text = "".join(parts)
    return rng.choice(["", "  ", "\n"]) + text + rng.choice(["", " ", "\n\n"])


def check_spans(text: str, spans: list[tuple[int, int]], max_chars: int, overlap: int) -> None:
    covered = bytearray(len(text))
    previous: tuple[int, int] | None = None
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert end - start <= max_chars
        assert not text[start].isspace() and not text[end - 1].isspace()
        if previous is not None:
            assert start > previous[0], "spans must move forward"
            assert start >= previous[1] - overlap, "overlap larger than asked"
        covered[start:end] = b"\x01" * (end - start)
        previous = (start, end)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"characters not in any chunk at {missing[:5]}"


@pytest.mark.parametrize("seed", range(60))
def test_random_texts(seed: int) -> None:
    rng = random.Random(seed)
    max_chars = rng.choice([20, 50, 120, 400, 800])
    overlap = rng.choice([0, 1, max_chars // 10, max_chars // 2, max_chars - 1])
    text = random_text(rng, rng.randrange(1, 60))
    check_spans(text, chunk_text(text, max_chars, overlap), max_chars, overlap)


def test_real_abstracts_end_at_sentences() -> None:
    papers = load_papers(PAPERS)[:40]
    text = "\n\n".join(f"{p.title}\n\n{p.abstract}" for p in papers)
    spans = chunk_text(text, 800, 100)
    check_spans(text, spans, 800, 100)
    # Sentence-aware: nearly every chunk ends at a full stop or a line end.
    ends_at_sentence = sum(text[e - 1] in ".!?" or text[e : e + 1] == "\n" for _, e in spans)
    assert ends_at_sentence >= 0.9 * len(spans)
    assert sum(e - s for s, e in spans) / len(spans) > 500  # chunks are not tiny


def test_overlap_starts_at_a_sentence() -> None:
    text = " ".join(f"Sentence number {i} talks about the pump housing." for i in range(40))
    spans = chunk_text(text, 200, 80)
    for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start < prev_end  # they overlap
        assert text[start:].startswith("Sentence")


def test_short_text_is_one_trimmed_chunk() -> None:
    assert chunk_text("  Hello world.\n", 800, 100) == [(2, 14)]


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text("", 800, 100) == []
    assert chunk_text(" \n\t ", 800, 100) == []


def test_one_long_word_is_cut_hard() -> None:
    text = "a" * 2000
    spans = chunk_text(text, 800, 0)
    assert spans == [(0, 800), (800, 1600), (1600, 2000)]


def test_exact_fit() -> None:
    text = "abcd " * 160  # 800 characters with the last space
    assert chunk_text(text, 800, 100) == [(0, 799)]


@pytest.mark.parametrize(("max_chars", "overlap"), [(0, 0), (-5, 0), (100, 100), (100, -1)])
def test_bad_arguments(max_chars: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        chunk_text("text", max_chars, overlap)
