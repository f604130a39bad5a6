"""Streaming decode of video and audio files with PyAV (FFmpeg libraries from the wheel).

One pass over the file: video frames are handed to the caller a few per second (the
caller keeps what it needs: a tiny copy for scene detection, a thumbnail now and then),
the soundtrack is resampled to 16 kHz mono on the fly. Nothing but the current frame is
held, so memory does not grow with the video's resolution or length; the 16 kHz
soundtrack is kept (1.9 MB per minute as 16-bit samples, twice that as float32 when
read) for speech recognition and audio-text encoders.

Corrupt and truncated files raise :class:`IngestError` naming the media time where
decoding stopped; with ``keep_partial=True`` (the video loader) a file that breaks off
after some good data ends its stream there instead and says why in :attr:`MediaReader.damage`,
so what was decoded before the break is kept. An MP4 or MOV cut short before its index
(the ``moov`` box, written last by most encoders) cannot be decoded at all; the message
says so rather than FFmpeg's "Invalid data found when processing input".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from polyseek.asr.base import SAMPLE_RATE
from polyseek.deps import require
from polyseek.errors import IngestError
from polyseek.ingest.options import DEFAULT_OPTIONS, IngestOptions

logger = logging.getLogger(__name__)

_HINT = "pip install av"
PROGRESS_EVERY_S = 60.0
"""Media seconds between two progress reports (log line and callback)."""

ProgressCallback = Callable[[float, float | None], None]
"""Called with (media seconds decoded so far, total duration or None)."""

TICK_EVERY_S = 0.5
"""Wall seconds between two reports to the ambient callback (a progress bar)."""

_ambient: ContextVar[ProgressCallback | None] = ContextVar("polyseek_media_progress", default=None)


@contextmanager
def media_progress(callback: ProgressCallback) -> Iterator[None]:
    """Report the decoding of every media file read in this context (thread) to ``callback``.

    The indexer wraps each file's loading in it so that a progress bar can show media time
    (``callback(seconds done, total or None)``, every :data:`TICK_EVERY_S` wall seconds and
    once at the end) without the loaders knowing about progress bars.
    """
    token = _ambient.set(callback)
    try:
        yield
    finally:
        _ambient.reset(token)


@dataclass
class MediaInfo:
    duration_s: float | None
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float | None = None
    video_codec: str = ""
    audio_codec: str = ""
    container: str = ""

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"container": self.container}
        if self.duration_s is not None:
            out["duration_s"] = round(self.duration_s, 3)
        if self.has_video:
            out.update(width=self.width, height=self.height, video_codec=self.video_codec)
            if self.fps:
                out["fps"] = round(self.fps, 3)
        if self.has_audio:
            out["audio_codec"] = self.audio_codec
        return out


@dataclass
class DecodeStats:
    """Where decoding time went (seconds of wall time), for benchmarks and logs."""

    decode_s: float = 0.0
    frames_decoded: int = 0
    frames_sampled: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _av() -> Any:
    return require("av", hint=_HINT, feature="video and audio files")


def fmt_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _reason(exc: BaseException) -> str:
    """FFmpeg's words without the errno number and path PyAV puts around them."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(text).split("; last error log:")[0]


_BMFF_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"moof"})


def _missing_mp4_index(path: Path) -> bool:
    """An ISO media file (MP4, MOV, M4A) with data but without its ``moov`` index box."""
    seen: set[bytes] = set()
    try:
        with path.open("rb") as fh:
            size_total = path.stat().st_size
            pos = 0
            while pos + 8 <= size_total and len(seen) < 64:
                fh.seek(pos)
                head = fh.read(16)
                size, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if kind not in _BMFF_BOXES:
                    break
                seen.add(kind)
                if size == 1 and len(head) >= 16:
                    size = int.from_bytes(head[8:16], "big")
                if size < 8:
                    break
                pos += size
    except OSError:
        return False
    return b"ftyp" in seen and b"moov" not in seen


def _open_error(path: Path, exc: BaseException) -> IngestError:
    if _missing_mp4_index(path):
        return IngestError(
            str(path),
            "truncated or unfinished file: its index (the MP4 'moov' box, written at the end) "
            "is missing, so nothing can be decoded (decoding stopped at 00:00:00); re-encode "
            "or re-export the original",
        )
    return IngestError(
        str(path),
        f"not a readable media file (corrupt or truncated?): {_reason(exc)}; decoding "
        "stopped at 00:00:00",
    )


class MediaReader:
    """Open ``path`` with PyAV; iterate :meth:`frames`, then read :attr:`audio`.

    ``frame_fps``: at most this many video frames per second are yielded (all are
    decoded; codecs cannot skip). ``audio``: whether to keep the 16 kHz soundtrack.
    """

    def __init__(
        self,
        path: Path,
        *,
        frame_fps: float = 5.0,
        audio: bool = True,
        on_progress: ProgressCallback | None = None,
        keep_partial: bool = False,
    ) -> None:
        av = _av()
        self.path = path
        self.frame_fps = frame_fps
        self.on_progress = on_progress
        self._tick = _ambient.get()
        self.stats = DecodeStats()
        self._want_audio = audio
        self._pcm: list[np.ndarray] = []
        self._last_t = 0.0
        self.keep_partial = keep_partial
        self.damage: str | None = None  # why the streams broke off (with keep_partial)
        try:
            self._container = av.open(str(path), metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise _open_error(path, exc) from None
        c = self._container
        # A stream without a codec context is one FFmpeg cannot decode (an unknown codec,
        # a damaged header): as good as absent.
        videos = [v for v in c.streams.video if v.codec_context is not None]
        audios = [a for a in c.streams.audio if a.codec_context is not None]
        self.video = videos[0] if videos else None
        self.audio_stream = audios[0] if audios else None
        if self.video is None and self.audio_stream is None:
            found = any(st.type in ("video", "audio") for st in c.streams)
            c.close()
            raise IngestError(
                str(path),
                "no decodable video or audio stream (unknown codec or damaged header)"
                if found
                else "no video or audio stream in the file",
            )
        self.info = self._describe()

    def _describe(self) -> MediaInfo:
        c = self._container
        duration = c.duration / 1_000_000 if c.duration else None
        for stream in (self.video, self.audio_stream):
            if duration is None and stream is not None and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
        info = MediaInfo(
            duration_s=duration,
            has_video=self.video is not None,
            has_audio=self.audio_stream is not None,
            container=str(c.format.name),
        )
        if self.video is not None:
            cc = self.video.codec_context
            info.width, info.height = int(cc.width), int(cc.height)
            rate = self.video.average_rate or self.video.guessed_rate
            info.fps = float(rate) if rate else None
            info.video_codec = str(cc.name)
        if self.audio_stream is not None:
            info.audio_codec = str(self.audio_stream.codec_context.name)
        return info

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def audio(self) -> np.ndarray:
        """The soundtrack decoded so far: float32 mono at 16 kHz (empty without audio)."""
        if not self._pcm:
            return np.zeros(0, np.float32)
        pcm = np.concatenate(self._pcm)
        self._pcm = [pcm]
        return pcm.astype(np.float32) / 32768.0

    def frames(self) -> Iterator[tuple[float, Any]]:
        """Yield ``(seconds, av.VideoFrame)`` at most ``frame_fps`` times per second.

        Decodes the audio alongside. Raises IngestError for corrupt or truncated data.
        """
        av = _av()
        streams = [s for s in (self.video, self.audio_stream) if s is not None]
        if not self._want_audio and self.video is not None:
            streams = [self.video]
        if self.video is not None:
            self.video.thread_type = "AUTO"
        resampler = (
            av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            if self.audio_stream is not None and self._want_audio
            else None
        )
        step = 1.0 / self.frame_fps if self.frame_fps > 0 else 0.0
        next_t = 0.0
        next_report = PROGRESS_EVERY_S
        started = time.perf_counter()
        next_tick = started + TICK_EVERY_S
        busy = 0.0  # wall time spent in the caller, not decoding
        try:
            for packet in self._container.demux(*streams):
                for frame in packet.decode():
                    t = _frame_time(frame)
                    if t is not None:
                        self._last_t = max(self._last_t, t)
                    if isinstance(frame, av.AudioFrame):
                        if resampler is not None:
                            for out in resampler.resample(frame):
                                self._pcm.append(out.to_ndarray().reshape(-1).copy())
                        continue
                    self.stats.frames_decoded += 1
                    if t is None or t + 1e-6 < next_t:
                        continue
                    next_t = t + step
                    self.stats.frames_sampled += 1
                    mark = time.perf_counter()
                    yield t, frame
                    busy += time.perf_counter() - mark
                if self._last_t >= next_report:
                    self._report(started)
                    next_report = self._last_t + PROGRESS_EVERY_S
                if self._tick is not None and (now := time.perf_counter()) >= next_tick:
                    self._tick(self._last_t, self.info.duration_s)
                    next_tick = now + TICK_EVERY_S
            if resampler is not None:
                for out in resampler.resample(None):
                    self._pcm.append(out.to_ndarray().reshape(-1).copy())
        except av.error.FFmpegError as exc:
            self._broken(
                f"corrupt or truncated media: decoding failed at {fmt_time(self._last_t)}"
                f"{self._of_total()} ({_reason(exc)})"
            )
            return
        finally:
            self.stats.decode_s += time.perf_counter() - started - busy
        self._check_complete()
        if self.on_progress is not None:
            self.on_progress(self._last_t, self.info.duration_s)
        if self._tick is not None:  # complete (checked above): all of it is done
            done = self._last_t if self.damage else max(self._last_t, self.info.duration_s or 0)
            self._tick(done, self.info.duration_s)

    def _report(self, started: float) -> None:
        total = self.info.duration_s
        speed = self._last_t / max(time.perf_counter() - started, 1e-9)
        of = f" of {fmt_time(total)}" if total else ""
        logger.info(
            "%s: decoded %s%s (%.1fx real time)", self.path.name, fmt_time(self._last_t), of, speed
        )
        if self.on_progress is not None:
            self.on_progress(self._last_t, total)

    def _check_complete(self) -> None:
        """A file whose streams end well before its announced duration was cut short."""
        total = self.info.duration_s
        end = self._last_t
        if self._pcm and self.video is None:
            end = max(end, sum(len(p) for p in self._pcm) / SAMPLE_RATE)
        if total is None:
            return
        tolerance = max(1.5, 0.02 * total)
        if end + tolerance < total:
            self._broken(
                f"truncated media: data ends at {fmt_time(end)} but the file announces "
                f"{fmt_time(total)}"
            )

    def _of_total(self) -> str:
        total = self.info.duration_s
        return f" of {fmt_time(total)}" if total else ""

    def _broken(self, reason: str) -> None:
        """Raise, or with ``keep_partial`` note the reason and let the stream end here."""
        if not self.keep_partial:
            raise IngestError(str(self.path), reason)
        # Info, not a warning: the run's summary lists the file as indexed in part.
        logger.info("%s: %s; keeping what was decoded before it", self.path.name, reason)
        self.damage = reason

    @property
    def decoded_until(self) -> float:
        return self._last_t


def _frame_time(frame: Any) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * Fraction(frame.time_base))


def decode_audio(
    path: Path, on_progress: ProgressCallback | None = None
) -> tuple[MediaInfo, np.ndarray]:
    """Decode the soundtrack of ``path`` to 16 kHz mono float32 (one streaming pass)."""
    with MediaReader(path, frame_fps=0.0, audio=True, on_progress=on_progress) as reader:
        if reader.audio_stream is None:
            raise IngestError(str(path), "no audio stream in the file")
        if reader.video is not None:
            reader.video = None  # an audio file with cover art: ignore the picture
        for _ in reader.frames():
            pass
        return reader.info, reader.audio


class MediaLoader:
    """Shared set-up of the video and audio loaders: options, a media-time progress
    callback, and ``timings`` (seconds spent per stage, filled by ``load``)."""

    def __init__(
        self, options: IngestOptions | None = None, on_progress: ProgressCallback | None = None
    ) -> None:
        self.options = options or DEFAULT_OPTIONS
        self.on_progress = on_progress
        self.timings: dict[str, float] = {}
