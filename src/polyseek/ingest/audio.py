"""Audio files: one item per stretch of speech, with its transcript and time range."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from polyseek.asr import SAMPLE_RATE, Segment
from polyseek.errors import IngestError
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
            if path.suffix.lower() == ".wav":
                check_wav_length(path)
            cues, sidecar = sidecar_segments(path, self.options)
            started = time.perf_counter()
            info, audio = decode_audio(path, self.on_progress)
            self.timings["decode_s"] = time.perf_counter() - started
            segments = cues or transcribe(audio, self.options, self.timings)
            origin = f"subtitles:{sidecar}" if cues else f"asr:{self.options.asr}"
            return audio_items(source, segments, info, origin, self.options.moment_max_s, audio)


_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the sizes open


def check_wav_length(path: Path) -> None:
    """Refuse a WAV file cut short: its header announces more audio than the file holds.

    FFmpeg estimates a WAV file's duration from its size, so a file cut in half decodes
    "completely" to half the audio; the RIFF header still says how long it was.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # not a plain RIFF/WAVE file (RF64, W64): FFmpeg judges it
        rate = channels = bits = 0
        offset = 12
        while offset + 8 <= size:
            fh.seek(offset)
            chunk = fh.read(8)
            if len(chunk) < 8:
                break
            kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt ":
                fmt = fh.read(16)
                if len(fmt) == 16:
                    _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt)
            elif kind == b"data":
                present = size - offset - 8
                if length not in _UNKNOWN_SIZES and present < length:
                    raise IngestError(
                        str(path),
                        "truncated WAV: the header announces "
                        f"{_wav_seconds(length, rate, channels, bits)} of audio, the file holds "
                        f"{_wav_seconds(present, rate, channels, bits)}",
                    )
                return
            offset += 8 + length + (length & 1)
        raise IngestError(str(path), "truncated WAV: the file ends before its audio data")


def _wav_seconds(n_bytes: int, rate: int, channels: int, bits: int) -> str:
    per_second = rate * channels * max(bits // 8, 1)
    return f"{n_bytes / per_second:.3f} s" if per_second else f"{n_bytes} bytes"


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
