"""Subtitle files (.srt, .vtt): timed text cues, and finding them next to a video.

A sidecar is a subtitle file with the video's stem, optionally with a language tag:
``talk.mp4`` -> ``talk.srt``, ``talk.en.vtt``. Cue text loses its markup (``<i>``,
``{\\an8}``, VTT voice tags); cue timings are kept in seconds.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from polyseek.errors import IngestError

logger = logging.getLogger(__name__)

SUBTITLE_EXTENSIONS = (".srt", ".vtt")

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAGS = re.compile(r"<[^>]*>|\{\\[^}]*\}")
_MAX_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_subtitles(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT document, in time order (blank cues dropped)."""
    cues: list[Cue] = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    for block in blocks:
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            m = _CUE_TIMING.match(line)
            if m is None:
                continue
            start = _seconds(*m.groups()[:4])
            end = _seconds(*m.groups()[4:])
            body = " ".join(_TAGS.sub("", t).strip() for t in lines[i + 1 :])
            body = " ".join(body.split())
            if body and end >= start:
                cues.append(Cue(start, end, body))
            break
    cues.sort(key=lambda c: (c.start_s, c.end_s))
    return cues


def read_subtitles(path: Path) -> list[Cue]:
    """Parse a subtitle file; :class:`IngestError` when it is unreadable or has no cue."""
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise IngestError(str(path), "subtitle file larger than 16 MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(str(path), f"cannot read subtitles: {exc.strerror or exc}") from None
    cues = parse_subtitles(decode_subtitles(raw, str(path)))
    if not cues:
        raise IngestError(str(path), "no subtitle cue found (expected SRT or WebVTT timings)")
    return cues


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_subtitles(raw: bytes, name: str) -> str:
    """Text of a subtitle file: UTF-8/16/32 by BOM, UTF-16 without one (NUL bytes every
    other byte), else UTF-8, else Windows-1252 (older SRT files)."""
    encodings: list[str] = [enc for bom, enc in _BOMS if raw.startswith(bom)][:1]
    if not encodings and len(raw) >= 4:
        even, odd = raw[0::2].count(0), raw[1::2].count(0)
        if odd > len(raw) // 4 and even == 0:
            encodings = ["utf-16-le"]
        elif even > len(raw) // 4 and odd == 0:
            encodings = ["utf-16-be"]
    for encoding in encodings or ["utf-8-sig", "cp1252"]:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(name, "subtitles are not UTF-8, UTF-16, UTF-32 or Windows-1252 text")


def find_sidecar(video: Path) -> Path | None:
    """The subtitle file next to ``video`` (``x.srt``, ``x.vtt``, ``x.<lang>.srt``), if any.

    An untagged file is preferred, then English; among the rest the first in name order.
    """
    candidates: list[Path] = []
    try:
        siblings = sorted(video.parent.iterdir())
    except OSError:
        return None
    stem = video.stem
    for p in siblings:
        if p.suffix.lower() not in SUBTITLE_EXTENSIONS or not p.is_file():
            continue
        inner = p.name[: -len(p.suffix)]
        if inner == stem or (inner.startswith(stem + ".") and "." not in inner[len(stem) + 1 :]):
            candidates.append(p)

    def preference(p: Path) -> tuple[int, str]:
        tag = p.name[len(stem) : -len(p.suffix)].lstrip(".").lower()
        english = tag in ("en", "eng") or tag.startswith("en-")
        return (0 if not tag else 1 if english else 2, p.name)

    return min(candidates, key=preference) if candidates else None
