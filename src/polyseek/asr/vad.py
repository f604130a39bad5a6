"""Voice activity detection by frame energy, adaptive to the recording's noise floor.

Good enough to cut clean speech (narration, talks, synthetic test speech) at its pauses;
music or loud background noise count as activity. Spans come back in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyseek.asr.base import MAX_CHUNK_S, SAMPLE_RATE


@dataclass(frozen=True)
class VadOptions:
    frame_s: float = 0.03
    min_speech_s: float = 0.25  # shorter bursts are clicks, not speech
    min_pause_s: float = 0.35  # shorter pauses are inside a sentence
    pad_s: float = 0.15  # kept around each span so word edges are not clipped
    floor_margin_db: float = 14.0  # above the noise floor
    min_level_db: float = -50.0  # never speech below this level (dBFS)
    max_level_db: float = -30.0  # always activity above this level (a recording without pauses)
    max_span_s: float = MAX_CHUNK_S


def frame_levels(audio: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of consecutive frames of ``frame`` samples."""
    n = len(audio) // frame
    if n == 0:
        return np.zeros(0, np.float32)
    x = audio[: n * frame].reshape(n, frame).astype(np.float32)
    rms = np.sqrt(np.mean(x * x, axis=1) + 1e-12)
    return (20 * np.log10(rms)).astype(np.float32)


def speech_spans(audio: np.ndarray, options: VadOptions | None = None) -> list[tuple[float, float]]:
    """Spans (start_s, end_s) of speech in mono float audio at :data:`SAMPLE_RATE`.

    Spans longer than ``max_span_s`` are cut at their quietest frame near the limit.
    """
    o = options or VadOptions()
    frame = int(o.frame_s * SAMPLE_RATE)
    levels = frame_levels(audio, frame)
    if len(levels) == 0:
        return []
    floor = float(np.percentile(levels, 10))
    threshold = min(max(floor + o.floor_margin_db, o.min_level_db), o.max_level_db)
    active = levels > threshold
    runs = _runs(active)
    # Close short pauses, then drop short bursts.
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and (a - merged[-1][1]) * o.frame_s < o.min_pause_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    total = len(audio) / SAMPLE_RATE
    spans: list[tuple[float, float]] = []
    for a, b in merged:
        if (b - a) * o.frame_s < o.min_speech_s:
            continue
        start = max(0.0, a * o.frame_s - o.pad_s)
        end = min(total, b * o.frame_s + o.pad_s)
        spans.extend(_split_long(start, end, levels, o))
    return spans


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of ``mask``."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _split_long(
    start: float, end: float, levels: np.ndarray, o: VadOptions
) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    while end - start > o.max_span_s:
        # Cut at the quietest frame in the last third of the allowed window.
        lo = int((start + o.max_span_s * 2 / 3) / o.frame_s)
        hi = max(lo + 1, int((start + o.max_span_s) / o.frame_s))
        window = levels[lo:hi]
        cut = (lo + int(np.argmin(window))) * o.frame_s if len(window) else start + o.max_span_s
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out
