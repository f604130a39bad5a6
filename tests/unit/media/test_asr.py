"""Speech to text: voice activity spans on real (espeak-ng) speech, the pocketsphinx
backend with its bundled model, and the Whisper backend on a tiny random model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek.asr import SAMPLE_RATE, Segment, VadOptions, load_transcriber, speech_spans
from polyseek.asr.vad import tonal_share
from polyseek.errors import ConfigError, EncoderError
from tests.helpers.media import espeak_available, soundtrack, word_error_rate
from tests.helpers.tiny_whisper import make_tiny_whisper

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng")


def test_silence_has_no_speech() -> None:
    assert speech_spans(np.zeros(SAMPLE_RATE * 3, np.float32)) == []
    assert speech_spans(np.zeros(0, np.float32)) == []


def test_bursts_are_found_at_their_times() -> None:
    t = np.arange(SAMPLE_RATE * 6) / SAMPLE_RATE
    audio = np.zeros_like(t, dtype=np.float32)
    rng = np.random.default_rng(0)
    for start in (1.0, 4.0):  # broadband bursts (a tone would be dropped as not a voice)
        on = (t >= start) & (t < start + 1.0)
        audio[on] = 0.2 * rng.standard_normal(int(on.sum()))
    # Noise bursts test the span rules; only the energy detector takes noise for speech.
    spans = speech_spans(audio, VadOptions(pad_s=0.0, detector="energy"))
    assert spans == [pytest.approx((1.0, 2.0), abs=0.05), pytest.approx((4.0, 5.0), abs=0.05)]


@pytest.mark.parametrize("kind", ["tone", "chirp", "buzz", "tone in noise"])
def test_steady_tones_are_not_speech(kind: str) -> None:
    """Issue 15: speech recognition turned a pure tone into words."""
    t = np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE
    audio = {
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "chirp": 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t),
        "buzz": 0.2 * np.sign(np.sin(2 * np.pi * 220 * t)),
        "tone in noise": 0.3 * np.sin(2 * np.pi * 1000 * t)
        + 0.01 * np.random.default_rng(1).standard_normal(len(t)),
    }[kind].astype(np.float32)
    assert tonal_share(audio) > 0.9
    assert speech_spans(audio) == []


@needs_espeak
def test_speech_next_to_a_tone_keeps_only_the_speech() -> None:
    speech = soundtrack(3.0, [(0.3, "please open the door")])
    t = np.arange(SAMPLE_RATE * 3) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    spans = speech_spans(np.concatenate([speech, tone]))
    assert len(spans) == 1 and spans[0][1] < 3.0, spans
    assert tonal_share(speech) < 0.2


def test_long_speech_is_cut_below_the_maximum_span() -> None:
    rng = np.random.default_rng(0)
    audio = (0.2 * rng.standard_normal(SAMPLE_RATE * 25)).astype(np.float32)
    audio[SAMPLE_RATE * 8 : SAMPLE_RATE * 8 + 800] *= 0.01  # a dip inside the allowed window
    spans = speech_spans(audio, VadOptions(max_span_s=10.0, detector="energy"))  # noise: energy
    assert all(b - a <= 10.0 + 1e-6 for a, b in spans), spans
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(25.0, abs=0.05)
    assert len(spans) == 3 and spans[0][1] == pytest.approx(8.0, abs=0.1)


@needs_espeak
def test_espeak_sentences_become_spans_at_their_times() -> None:
    audio = soundtrack(8.0, [(0.5, "good morning ladies and gentlemen"), (5.0, "thank you")])
    spans = speech_spans(audio)
    assert len(spans) == 2, spans
    assert spans[0][0] == pytest.approx(0.5, abs=0.3) and spans[1][0] == pytest.approx(5.0, abs=0.3)


@needs_espeak
def test_pocketsphinx_transcribes_with_word_times() -> None:
    said = "we are going to the hospital"
    audio = soundtrack(4.0, [(1.0, said)])
    asr = load_transcriber("pocketsphinx")
    assert load_transcriber("pocketsphinx") is asr  # one per spec
    segments = asr.transcribe(audio, speech_spans(audio))
    assert len(segments) == 1
    seg = segments[0]
    # Pocketsphinx on synthetic speech is rough: bound the error, do not expect perfection.
    assert word_error_rate(said, seg.text) <= 0.5, seg.text
    assert all(1.0 - 0.3 <= w.start_s < w.end_s <= 4.0 for w in seg.words), seg.words
    assert seg.words[0].start_s < seg.words[-1].start_s


def test_pocketsphinx_rejects_a_folder_that_is_no_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a pocketsphinx model folder"):
        load_transcriber(f"pocketsphinx:{tmp_path}")


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="pocketsphinx, whisper"):
        load_transcriber("vosk")


def test_whisper_loads_a_saved_model_and_transcribes(tmp_path: Path) -> None:
    model = make_tiny_whisper(tmp_path / "whisper")
    asr = load_transcriber(f"whisper:{model}")
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32)
    seg = asr.transcribe_chunk(audio, offset_s=3.0)
    # A random model says random things; the times must still be the span's.
    if seg is not None:
        assert isinstance(seg, Segment) and (seg.start_s, seg.end_s) == (3.0, 5.0)
    assert asr.transcribe_chunk(audio[:100], offset_s=0.0) is None  # too short to hear


def test_whisper_needs_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        load_transcriber("whisper")
    with pytest.raises(EncoderError, match="cannot load the Whisper model"):
        load_transcriber(f"whisper:{tmp_path}")
