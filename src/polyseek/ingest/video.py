"""Video files: one item per moment (a shot, split at ``moment_max_s``), with keyframes
and the transcript (sidecar subtitles, or speech to text of the soundtrack) of its span.

Decoding is one streaming pass (:mod:`polyseek.ingest.media`); cuts are found by frame
difference (:mod:`polyseek.ingest.scenes`). Per open moment only a bounded number of
small keyframe candidates is held, so memory does not grow with the video's length.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from polyseek.errors import IngestError
from polyseek.ingest._errors import ingest_errors
from polyseek.ingest._transcript import sidecar_segments, text_between, transcribe
from polyseek.ingest.audio import audio_items, span_audio
from polyseek.ingest.base import LOADERS
from polyseek.ingest.detect import VIDEO_EXTENSIONS
from polyseek.ingest.media import MediaLoader, MediaReader
from polyseek.ingest.options import IngestOptions
from polyseek.ingest.scenes import ANALYSIS_SIZE, SceneDetector
from polyseek.ingest.text import NOTE_KEY
from polyseek.types import Item, Locator

logger = logging.getLogger(__name__)

_CANDIDATE_EVERY_S = 1.0  # keyframe candidates are taken at most this often
_SETTLE_S = 0.2  # skip this long after a cut before taking the first keyframe


@dataclass
class Moment:
    start_s: float
    end_s: float
    scene: int  # index of the shot it belongs to (moments split by length share it)
    keyframes: list[Image.Image] = field(default_factory=list)
    keyframe_times: list[float] = field(default_factory=list)


class MomentBuilder:
    """Turns a time-ordered stream of frames into moments with keyframes."""

    def __init__(self, options: IngestOptions) -> None:
        self.options = options
        self.detector = SceneDetector(options.scene_threshold, min_scene_s=1.0)
        self.moments: list[Moment] = []
        self._start = 0.0
        self._scene = 0
        self._candidates: list[tuple[float, Image.Image]] = []
        self._next_candidate = _SETTLE_S
        self._max_candidates = max(
            options.keyframes, int(options.moment_max_s / _CANDIDATE_EVERY_S)
        )

    def push(self, t: float, tiny_rgb: Any, picture: Callable[[], Image.Image]) -> None:
        """The frame at ``t``: ``tiny_rgb`` for cut detection, ``picture()`` for a keyframe."""
        if self.detector.push(t, tiny_rgb):
            self._close(t)
            self._scene += 1
            self._next_candidate = t + _SETTLE_S
        elif t - self._start >= self.options.moment_max_s:
            self._close(t)
            self._next_candidate = t
        if t >= self._next_candidate and len(self._candidates) < self._max_candidates:
            self._candidates.append((t, picture()))
            self._next_candidate = t + _CANDIDATE_EVERY_S
        elif not self._candidates:  # a very short moment still gets a picture
            self._candidates.append((t, picture()))

    def finish(self, end_s: float) -> list[Moment]:
        if end_s > self._start or not self.moments:
            self._close(max(end_s, self._start))
        return self.moments

    def _close(self, end: float) -> None:
        chosen = _spread(self._candidates, self.options.keyframes)
        self.moments.append(
            Moment(
                start_s=round(self._start, 3),
                end_s=round(end, 3),
                scene=self._scene,
                keyframes=[img for _, img in chosen],
                keyframe_times=[round(t, 3) for t, _ in chosen],
            )
        )
        self._start = end
        self._candidates = []


def _spread(candidates: list[tuple[float, Image.Image]], k: int) -> list[tuple[float, Image.Image]]:
    """``k`` candidates evenly spread over the list (all of them when there are fewer)."""
    if len(candidates) <= k:
        return list(candidates)
    n = len(candidates)
    return [candidates[int((i + 0.5) * n / k)] for i in range(k)]


def _thumb_size(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2


@LOADERS.register("video")
class VideoLoader(MediaLoader):
    """``Item(modality="video", locator=Locator(start_s=, end_s=))`` per moment.

    ``text`` is the transcript of the span, ``image`` its first keyframe (the thumbnail),
    ``keyframes`` up to ``IngestOptions.keyframes`` pictures spread over the moment;
    ``metadata`` says where the transcript came from (``subtitles:<file>`` or
    ``asr:<backend>``) and the shot index. A video without a picture stream is indexed
    like an audio file. ``timings`` holds seconds spent per stage after :meth:`load`.
    """

    name = "video"
    extensions = VIDEO_EXTENSIONS

    def load(self, path: Path, source: str) -> list[Item]:
        with ingest_errors(path):
            return self._load(path, source)

    def _load(self, path: Path, source: str) -> list[Item]:
        opts = self.options
        cues, sidecar = sidecar_segments(path, opts)
        builder = MomentBuilder(opts)
        segment_s = 0.0
        started = time.perf_counter()
        with MediaReader(
            path,
            frame_fps=opts.scene_fps,
            audio=True,
            on_progress=self.on_progress,
            keep_partial=True,  # a file cut short keeps the moments before the cut
        ) as reader:
            info = reader.info
            if reader.video is None:
                audio = _drain(reader)
                self.timings["decode_s"] = time.perf_counter() - started
                segments = cues or transcribe(audio, opts, self.timings)
                origin = f"subtitles:{sidecar}" if cues else f"asr:{opts.asr}"
                found = audio_items(source, segments, info, origin, opts.moment_max_s, audio)
                return _noted(found, reader.damage, path)
            size = _thumb_size(info.width, info.height, opts.keyframe_side)
            w, h = ANALYSIS_SIZE
            for t, frame in reader.frames():
                mark = time.perf_counter()
                tiny = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA")
                builder.push(t, tiny, _picture(frame, size))
                segment_s += time.perf_counter() - mark
            end_s = reader.decoded_until + (1.0 / info.fps if info.fps else 0.0)
            if info.duration_s:
                end_s = min(max(end_s, 0.0), info.duration_s)
            moments = builder.finish(end_s)
            audio = reader.audio
            self.timings["decode_s"] = reader.stats.decode_s
            self.timings["segment_s"] = segment_s
        if not moments or reader.stats.frames_sampled == 0:
            raise IngestError(str(path), reader.damage or "no decodable video frame")
        segments = cues or transcribe(audio, opts, self.timings)
        origin = (
            f"subtitles:{sidecar}"
            if cues
            else ("none" if opts.asr == "none" else f"asr:{opts.asr}")
        )
        if not info.has_audio and not cues:
            origin = "none"
        items = []
        for m in moments:
            items.append(
                Item(
                    source=source,
                    modality="video",
                    locator=Locator(start_s=m.start_s, end_s=m.end_s),
                    text=text_between(segments, m.start_s, m.end_s),
                    image=m.keyframes[0] if m.keyframes else None,
                    keyframes=list(m.keyframes),
                    audio=span_audio(audio, m.start_s, m.end_s),
                    metadata={
                        "scene": m.scene,
                        "keyframe_times": m.keyframe_times,
                        "transcript": origin,
                        "duration_s": info.duration_s,
                    },
                )
            )
        _noted(items, reader.damage, path)
        logger.info(
            "%s: %d moments (%d shots), %d transcript segments (%s)",
            source,
            len(items),
            len({m.scene for m in moments}),
            len(segments),
            origin,
        )
        return items


def _noted(items: list[Item], damage: str | None, path: Path) -> list[Item]:
    """Items of a file that broke off: the reason goes on the first ("partly" in the
    summary of the run); with nothing before the break the file fails with it."""
    if damage is None:
        return items
    if not items:
        raise IngestError(str(path), damage)
    items[0].metadata[NOTE_KEY] = f"{damage}; what came before it is indexed ({len(items)} items)"
    return items


def _picture(frame: Any, size: tuple[int, int]) -> Callable[[], Image.Image]:
    """A deferred conversion: only frames chosen as keyframe candidates become pictures."""
    return lambda: frame.to_image(width=size[0], height=size[1])  # type: ignore[no-any-return]


def _drain(reader: MediaReader) -> Any:
    for _ in reader.frames():
        pass
    return reader.audio


def keyframes_at(
    path: Path, times: list[float], options: IngestOptions | None = None
) -> list[Image.Image]:
    """The pictures of ``path`` at ``times`` (a moment's ``keyframe_times``), as the loader
    took them: frames sampled at ``scene_fps``, the first at or after each time, scaled to
    ``keyframe_side``. For a backfill, which has the times but not the pictures."""
    opts = options or IngestOptions()
    wanted = sorted(times)
    found: list[Image.Image] = []
    with ingest_errors(path), MediaReader(path, frame_fps=opts.scene_fps, audio=False) as reader:
        info = reader.info
        if reader.video is None:
            raise IngestError(str(path), "no video stream in the file")
        size = _thumb_size(info.width, info.height, opts.keyframe_side)
        for t, frame in reader.frames():
            while wanted and t >= wanted[0] - 1e-3:
                found.append(frame.to_image(width=size[0], height=size[1]))
                wanted.pop(0)
            if not wanted:
                break
    return found
