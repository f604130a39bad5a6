"""Transcripts for time-based media: sidecar subtitles or speech to text, cut into spans."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyseek.asr import Segment, VadOptions, load_transcriber, speech_spans
from polyseek.errors import IngestError
from polyseek.ingest.options import IngestOptions
from polyseek.ingest.subtitles import find_sidecar, read_subtitles

logger = logging.getLogger(__name__)


def sidecar_segments(path: Path, options: IngestOptions) -> tuple[list[Segment], str | None]:
    """Segments from the subtitle file next to ``path`` (none: ``[]``), and its name.

    A broken subtitle file is logged and ignored: the media is still indexed.
    """
    if not options.subtitles:
        return [], None
    sidecar = find_sidecar(path)
    if sidecar is None:
        return [], None
    try:
        cues = read_subtitles(sidecar)
    except IngestError as exc:
        logger.warning("ignoring subtitles %s: %s", sidecar, exc.reason)
        return [], None
    return [Segment(c.start_s, c.end_s, c.text) for c in cues], sidecar.name


def transcribe(
    audio: np.ndarray, options: IngestOptions, timings: dict[str, float]
) -> list[Segment]:
    """Speech spans of ``audio`` (16 kHz mono) through the configured ASR backend."""
    if options.asr == "none" or len(audio) == 0:
        return []
    transcriber = load_transcriber(options.asr)
    started = time.perf_counter()
    spans = speech_spans(audio, VadOptions(max_span_s=min(30.0, options.moment_max_s)))
    segments = transcriber.transcribe(audio, spans)
    timings["asr_s"] = timings.get("asr_s", 0.0) + time.perf_counter() - started
    return segments


def text_between(segments: Sequence[Segment], start: float, end: float) -> str:
    """The transcript of [start, end): words by their midpoint, untimed cues by overlap.

    A cue (a subtitle, a Whisper segment) belongs to every span it overlaps by at least
    half its length or half a second, so a cue straddling a cut is found on both sides.
    """
    parts: list[str] = []
    for seg in segments:
        if seg.end_s <= start or seg.start_s >= end:
            continue
        if seg.words:
            words = [w.text for w in seg.words if start <= (w.start_s + w.end_s) / 2 < end]
            if words:
                parts.append(" ".join(words))
            continue
        overlap = min(seg.end_s, end) - max(seg.start_s, start)
        if overlap >= min(0.5, (seg.end_s - seg.start_s) / 2) or start <= seg.mid_s < end:
            parts.append(seg.text)
    return " ".join(parts)


def group_segments(
    segments: Sequence[Segment], max_s: float, max_gap_s: float = 2.0
) -> list[tuple[float, float]]:
    """Time spans of consecutive segments, at most ``max_s`` long, cut at pauses > ``max_gap_s``."""
    spans: list[tuple[float, float]] = []
    for seg in segments:
        if spans:
            start, end = spans[-1]
            if seg.start_s - end <= max_gap_s and seg.end_s - start <= max_s:
                spans[-1] = (start, max(end, seg.end_s))
                continue
        spans.append((seg.start_s, seg.end_s))
    return spans
