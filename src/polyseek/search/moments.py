"""Time-based results: adjacent moments of one file merged into one span, and clip
queries: a video clip is embedded as the pooled embedding of its keyframes (by an
image-text encoder), an audio clip as its sound (by an audio-text encoder, CLAP).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.errors import IngestError, QueryError
from polyseek.types import Hit

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder

logger = logging.getLogger(__name__)

MERGE_GAP_S = 1.0
"""Hits whose time ranges are at most this far apart may merge."""
MERGE_MIN_RATIO = 0.8
"""A neighbour joins a span only if each of its raw signal scores is at least this share of
the span's best hit's (so a weak neighbour does not stretch a strong moment)."""
MERGE_SLACK = 10
"""Candidates ranked beyond ``top`` so that a list whose moments merge still fills ``top``."""
QUERY_KEYFRAMES = 8
"""Keyframes taken from a query clip (spread over its length)."""


def _timed(h: Hit) -> bool:
    return h.locator.start_s is not None and h.locator.end_s is not None


def _touches(span: list[Hit], start: float, end: float, max_gap_s: float) -> bool:
    lo = min(x.locator.start_s or 0.0 for x in span)
    hi = max(x.locator.end_s or 0.0 for x in span)
    return start <= hi + max_gap_s and end >= lo - max_gap_s


def _strong_enough(candidate: Hit, best: Hit, min_ratio: float) -> bool:
    shared = set(candidate.signals) & set(best.signals)
    if not shared:
        return False
    for name in shared:
        top, mine = best.signals[name], candidate.signals[name]
        if top > 0 and mine < min_ratio * top:
            return False
        if top <= 0 and mine < top:
            return False
    return True


def merge_adjacent(
    hits: Sequence[Hit], max_gap_s: float = MERGE_GAP_S, min_ratio: float = MERGE_MIN_RATIO
) -> list[Hit]:
    """Merge hits of the same file whose time ranges touch into one span.

    A span is led by its best-ranked hit (its score, snippet, preview and rank position);
    a time-adjacent hit of the same source joins it when its raw scores are at least
    ``min_ratio`` of the leader's on every shared signal. The merged hit's locator covers
    the union; ``metadata["merged"]`` lists the item ids it absorbed. Hits without a time
    range pass through unchanged. Ranks are renumbered.
    """
    spans: list[list[Hit]] = []  # in leader rank order; each list: leader first
    for h in hits:
        start, end = h.locator.start_s, h.locator.end_s
        if start is None or end is None:
            spans.append([h])
            continue
        joined = [
            span
            for span in spans
            if span[0].source == h.source
            and _timed(span[0])
            and _touches(span, start, end, max_gap_s)
            and _strong_enough(h, span[0], min_ratio)
        ]
        if not joined:
            spans.append([h])
            continue
        first = joined[0]
        first.append(h)
        # h may bridge two spans (hits arrive by score, not by time): fold the later one
        # in when all its hits are strong enough for the better leader.
        for other in joined[1:]:
            if all(_strong_enough(x, first[0], min_ratio) for x in other):
                first.extend(other)
                spans.remove(other)
    out: list[Hit] = []
    for span in spans:
        leader = span[0]
        if len(span) > 1:
            start = min(x.locator.start_s or 0.0 for x in span)
            end = max(x.locator.end_s or 0.0 for x in span)
            snippets = [x.snippet for x in sorted(span, key=lambda x: x.locator.start_s or 0)]
            leader = dataclasses.replace(
                leader,
                locator=dataclasses.replace(leader.locator, start_s=start, end_s=end),
                snippet=" … ".join(s for s in snippets if s),
                metadata={**leader.metadata, "merged": [x.item_id for x in span[1:]]},
            )
        out.append(dataclasses.replace(leader, rank=len(out) + 1))
    return out


def is_video_path(value: Any) -> bool:
    """Whether ``value`` names a video file (a clip given as a query)."""
    from polyseek.ingest.detect import VIDEO_EXTENSIONS

    return isinstance(value, (str, Path)) and Path(value).suffix.lower() in VIDEO_EXTENSIONS


def is_audio_path(value: Any) -> bool:
    """Whether ``value`` names an audio file (a sound clip given as a query)."""
    from polyseek.ingest.detect import AUDIO_EXTENSIONS

    return isinstance(value, (str, Path)) and Path(value).suffix.lower() in AUDIO_EXTENSIONS


def is_clip_path(value: Any) -> bool:
    """Whether ``value`` names a video or audio clip (not a picture)."""
    return is_video_path(value) or is_audio_path(value)


def clip_keyframes(path: str | Path, n: int = QUERY_KEYFRAMES, side: int = 384) -> list[Any]:
    """Up to ``n`` frames spread over the clip at ``path`` (streamed; at most 2 per second kept)."""
    from polyseek.ingest.media import MediaReader

    path = Path(path).expanduser()
    if not path.is_file():
        raise QueryError(f"{path}: no such video file")
    try:
        with MediaReader(path, frame_fps=2.0, audio=False) as reader:
            if reader.video is None:
                raise QueryError(f"{path}: the query clip has no video stream")
            w, h = reader.info.width, reader.info.height
            scale = min(1.0, side / max(w, h, 1))
            size = {"width": max(2, int(w * scale)), "height": max(2, int(h * scale))}
            frames: list[Any] = []
            for _, frame in reader.frames():
                frames.append(frame.to_image(**size))
                if len(frames) > 4 * n:  # long clip: thin out, keep every other frame
                    frames = frames[::2]
    except IngestError as exc:
        raise QueryError(f"cannot read the query clip: {exc.reason}", hint=exc.hint) from exc
    if not frames:
        raise QueryError(f"{path}: no decodable frame in the query clip")
    if len(frames) > n:
        frames = [frames[int((i + 0.5) * len(frames) / n)] for i in range(n)]
    return frames


def embed_clip(enc: Encoder, path: str | Path, pooling: str = "mean") -> np.ndarray:
    """The query vector of a video clip: its keyframes' embeddings, pooled."""
    from polyseek.encoders.pooling import embed_pictures

    return embed_pictures(enc, clip_keyframes(path), pooling)


def embed_sound(enc: Encoder, path: str | Path) -> np.ndarray:
    """The query vector of an audio clip: its sound (16 kHz mono) by an audio-text encoder."""
    from polyseek.ingest.media import decode_audio

    path = Path(path).expanduser()
    if not path.is_file():
        raise QueryError(f"{path}: no such audio file")
    try:
        _, pcm = decode_audio(path)
    except IngestError as exc:
        raise QueryError(f"cannot read the query clip: {exc.reason}", hint=exc.hint) from exc
    if not len(pcm):
        raise QueryError(f"{path}: no decodable sound in the query clip")
    return np.asarray(enc.embed_audio([pcm])[0])
