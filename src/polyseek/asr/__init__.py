"""Speech to text: timed transcripts for audio files and video soundtracks.

A backend is named by a spec ``name`` or ``name:model`` (split on the first colon)::

    pocketsphinx                     # offline default, model in the wheel; poor accuracy
    whisper:/models/whisper-small    # transformers Whisper: the quality path
    none                             # no speech recognition (subtitles only)

:func:`load_transcriber` caches one instance per spec.
"""

from __future__ import annotations

import threading

from polyseek.asr.base import (
    MAX_CHUNK_S,
    SAMPLE_RATE,
    TRANSCRIBERS,
    Segment,
    Transcriber,
    Word,
)
from polyseek.asr.vad import VadOptions, speech_spans
from polyseek.hub import loading_model

TRANSCRIBERS.register_lazy("pocketsphinx", "polyseek.asr.pocketsphinx:PocketSphinxTranscriber")
TRANSCRIBERS.register_lazy("whisper", "polyseek.asr.whisper:WhisperTranscriber")
_CACHE: dict[str, Transcriber] = {}
_LOCK = threading.Lock()


def backend_names() -> list[str]:
    """Names of the registered speech-to-text backends (built-in ones included)."""
    return TRANSCRIBERS.names()


def load_transcriber(spec: str) -> Transcriber:
    """The transcriber for ``spec`` (``pocketsphinx``, ``whisper:/path``, a dotted class path)."""
    with _LOCK:
        cached = _CACHE.get(spec)
        if cached is not None:
            return cached
        name, _, model_ref = spec.partition(":")
        factory = TRANSCRIBERS.resolve(name)
        with loading_model(spec):
            transcriber = factory(model_ref or None)
        _CACHE[spec] = transcriber
        return transcriber


__all__ = [
    "MAX_CHUNK_S",
    "SAMPLE_RATE",
    "TRANSCRIBERS",
    "Segment",
    "Transcriber",
    "VadOptions",
    "Word",
    "backend_names",
    "load_transcriber",
    "speech_spans",
]
