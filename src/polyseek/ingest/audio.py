"""Audio files: one item per stretch of speech, with its transcript and time range."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyseek.asr import SAMPLE_RATE, Segment
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest._transcript import group_segments, sidecar_segments, text_between, transcribe
from polyseek.ingest.base import LOADERS
from polyseek.ingest.detect import AUDIO_EXTENSIONS
from polyseek.ingest.media import MediaInfo, MediaLoader, decode_audio
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)


@LOADERS.register("audio")
class AudioLoader(MediaLoader):
    """``Item(modality="audio", locator=Locator(start_s=, end_s=), text=transcript)`` per segment.

    Speech is found by voice activity detection and transcribed with
    ``IngestOptions.asr``; a sidecar ``.srt``/``.vtt`` replaces speech recognition.
    Segments are consecutive speech up to ``IngestOptions.moment_max_s`` long, cut at
    pauses. A file without recognisable speech gives no items.
    """

    name = "audio"
    extensions = AUDIO_EXTENSIONS

    def load(self, path: Path, source: str) -> list[Item]:
        with ingest_errors(path):
            cues, sidecar = sidecar_segments(path, self.options)
            started = time.perf_counter()
            info, audio = decode_audio(path, self.on_progress)
            self.timings["decode_s"] = time.perf_counter() - started
            segments = cues or transcribe(audio, self.options, self.timings)
            origin = f"subtitles:{sidecar}" if cues else f"asr:{self.options.asr}"
            return audio_items(source, segments, info, origin, self.options.moment_max_s, audio)


def audio_items(
    source: str,
    segments: Sequence[Segment],
    info: MediaInfo,
    origin: str,
    max_s: float,
    audio: np.ndarray | None = None,
) -> list[Item]:
    """One item per group of transcript segments; ``audio`` (16 kHz) gives each its sound."""
    items = []
    for start, end in group_segments(segments, max_s):
        text = text_between(segments, start, end)
        if not text.strip():
            continue
        items.append(
            Item(
                source=source,
                modality="audio",
                locator=Locator(start_s=round(start, 3), end_s=round(end, 3)),
                text=text,
                metadata={"transcript": origin, **info.to_metadata()},
                audio=span_audio(audio, start, end),
            )
        )
    logger.debug("%s: %d speech segments -> %d items", source, len(segments), len(items))
    return items


def span_audio(audio: np.ndarray | None, start: float, end: float) -> np.ndarray | None:
    """The samples of [start, end) (a view: no copy), or ``None`` without a soundtrack."""
    if audio is None or len(audio) == 0:
        return None
    piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    return piece if len(piece) else None
