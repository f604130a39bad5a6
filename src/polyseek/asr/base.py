"""The speech-to-text protocol: 16 kHz mono audio in, timed transcript segments out.

Every backend transcribes one short span of speech at a time (at most
:data:`MAX_CHUNK_S` seconds). Finding the spans (voice activity detection) is shared by
all backends (:mod:`polyseek.asr.vad`), so timestamps are as good as the VAD even for a
backend that returns no word timings (Whisper through transformers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from polyseek.registry import Registry

SAMPLE_RATE = 16_000
"""Every transcriber takes mono float32 audio in [-1, 1] at this rate."""

MAX_CHUNK_S = 30.0
"""Longest span handed to a backend in one call (Whisper's window)."""


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Segment:
    """A span of transcript with its time range in the source (seconds)."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = field(default=())

    @property
    def mid_s(self) -> float:
        return (self.start_s + self.end_s) / 2


class Transcriber(ABC):
    """Base class of speech-to-text backends."""

    name: str = ""
    spec: str = ""

    @abstractmethod
    def transcribe_chunk(self, audio: np.ndarray, offset_s: float) -> Segment | None:
        """Transcribe one span of speech (float32 mono, :data:`SAMPLE_RATE`).

        ``offset_s`` is where the span starts in its source; the returned segment and its
        words carry source times. ``None`` when nothing was recognised.
        """

    def transcribe(self, audio: np.ndarray, spans: Sequence[tuple[float, float]]) -> list[Segment]:
        """Transcribe the speech spans (seconds) of ``audio``; empty results are dropped."""
        out: list[Segment] = []
        for start, end in spans:
            a = int(round(start * SAMPLE_RATE))
            b = int(round(end * SAMPLE_RATE))
            seg = self.transcribe_chunk(audio[a:b], start)
            if seg is not None and seg.text.strip():
                out.append(seg)
        return out


TranscriberFactory = Callable[[str | None], Transcriber]

TRANSCRIBERS: Registry[TranscriberFactory] = Registry("speech-to-text backend")
"""Backends by name: ``pocketsphinx`` (offline default), ``whisper`` (transformers)."""
