"""Voice activity detection: which frames are speech, then spans cut at pauses.

Frames are judged by Silero VAD's model (:mod:`polyseek.asr.silero`, from the
``silero-vad`` wheel, on ONNX Runtime) when it is installed, else by frame energy
adaptive to the recording's noise floor (music or loud noise then count as activity).
Either way the same rules make spans: short pauses closed, short bursts dropped, a pad
kept around, long spans cut at their quietest frame. Spans come back in seconds.

A span that is a steady tone (a test tone, a beep, a hum: most of its frames have nearly
all their energy in one narrow band) is not speech and is dropped, so speech recognition
does not turn it into words. Measured on 30 ms frames: a pure or chirped tone puts 100%
of frames above the 0.75 peak share, espeak-ng speech (more harmonic than a human voice)
about a fifth of them; two simultaneous tones (music-like) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from polyseek.asr import silero
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
    tonal_peak: float = 0.75  # a frame is tonal when this share of its energy is in one band
    max_tonal_share: float = 0.7  # a span with more tonal frames than this is a tone
    # "silero": Silero VAD's model (polyseek.asr.silero) decides which frames are speech,
    # "energy": the level above the noise floor does; "auto": silero when installed.
    detector: str = "auto"
    speech_prob: float = 0.5  # silero: a frame above this starts or is speech
    keep_prob: float = 0.35  # silero: ...and frames above this next to it stay speech


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
    if o.detector not in ("auto", "silero", "energy"):
        raise ValueError(f"unknown VAD detector {o.detector!r}: auto, silero or energy")
    probs = None if o.detector == "energy" else silero.speech_probabilities(audio)
    if probs is None and o.detector == "silero":
        raise ValueError("the silero VAD needs the silero-vad package: pip install silero-vad")
    if probs is not None:
        o = replace(o, frame_s=silero.FRAME_S)
    frame = int(o.frame_s * SAMPLE_RATE)
    levels = frame_levels(audio, frame)
    if len(levels) == 0:
        return []
    if probs is not None:
        active = _hysteresis(probs[: len(levels)], o.speech_prob, o.keep_prob)
    else:
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
        if tonal_share(audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], o) > (
            o.max_tonal_share
        ):
            continue  # a steady tone, not a voice
        spans.extend(_split_long(start, end, levels, o))
    return spans


def tonal_share(audio: np.ndarray, options: VadOptions | None = None) -> float:
    """Share of the audible frames of ``audio`` whose energy sits in one narrow band.

    Per frame: the power within two FFT bins (about ±67 Hz) of the strongest one, over all
    power between 80 Hz and 4 kHz. A tone gives ~1.0 in every frame; voices spread their
    energy over harmonics and formants.
    """
    o = options or VadOptions()
    frame = int(o.frame_s * SAMPLE_RATE)
    n = len(audio) // frame
    if n == 0:
        return 0.0
    frames = audio[: n * frame].reshape(n, frame).astype(np.float32)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    audible = rms > rms.max() * 0.05
    spectra = np.abs(np.fft.rfft(frames[audible] * np.hanning(frame), axis=1)) ** 2
    lo, hi = int(80 * frame / SAMPLE_RATE), int(4000 * frame / SAMPLE_RATE)
    band = spectra[:, lo:hi]
    if band.size == 0:
        return 0.0
    peak = band.argmax(axis=1)
    cumulative = np.concatenate([np.zeros((len(band), 1)), np.cumsum(band, axis=1)], axis=1)
    rows = np.arange(len(band))
    near = (
        cumulative[rows, np.minimum(peak + 3, band.shape[1])]
        - cumulative[rows, np.maximum(peak - 2, 0)]
    )
    share = near / (band.sum(axis=1) + 1e-12)
    return float(np.mean(share >= o.tonal_peak))


def _hysteresis(probs: np.ndarray, start: float, keep: float) -> np.ndarray:
    """Frames above ``start``, grown over neighbours above ``keep`` (Silero's two thresholds)."""
    active = probs > start
    weak = probs > keep
    for a, b in _runs(weak):
        if active[a:b].any():
            active[a:b] = True
    return active


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
