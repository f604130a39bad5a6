"""Voice activity with Silero VAD's model (the default when silero-vad is installed):
noise and tones are not speech, espeak-ng sentences are; the energy detector stays
available and takes loud noise for speech, which is why it is no longer the default."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from polyseek.asr import silero
from polyseek.asr.vad import VadOptions, speech_spans
from tests.helpers.media import RATE, espeak_available, speak

pytestmark = pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng")


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    rng = np.random.default_rng(0)
    voice = speak("replace the intake filter cartridge after five hundred hours")
    track = rng.normal(0, 0.002, RATE * 12).astype(np.float32)
    track[RATE : RATE + len(voice)] += voice
    noise = (RATE * 8, RATE * 11)
    track[noise[0] : noise[1]] += rng.normal(0, 0.1, noise[1] - noise[0]).astype(np.float32)
    return track, (1.0, 1.0 + len(voice) / RATE), (8.0, 11.0)


def overlap(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)


def test_silero_finds_the_sentence_and_not_the_noise(recording) -> None:
    audio, (s0, s1), (n0, n1) = recording
    assert silero.available()
    spans = speech_spans(audio)  # "auto": silero
    assert overlap(spans, s0, s1) >= 0.9 * (s1 - s0)
    assert overlap(spans, n0, n1) == 0.0
    energy = speech_spans(audio, VadOptions(detector="energy"))
    assert overlap(energy, n0, n1) > 2.0  # the reason for the change


def test_a_pure_tone_is_not_speech() -> None:
    x = np.arange(RATE * 3) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * x)).astype(np.float32)
    assert speech_spans(tone) == []


def test_the_model_loads_without_importing_torch() -> None:
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "from polyseek.asr import silero\n"
        "assert silero.speech_probabilities(np.zeros(16000, np.float32)) is not None\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_unknown_detector_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown VAD detector 'webrtc'"):
        speech_spans(np.zeros(RATE, np.float32), VadOptions(detector="webrtc"))
