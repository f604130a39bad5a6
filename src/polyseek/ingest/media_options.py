"""Validation of the video/audio fields of :class:`~polyseek.ingest.IngestOptions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyseek.errors import ConfigError

if TYPE_CHECKING:
    from polyseek.ingest.options import IngestOptions

KEYFRAME_POOLINGS = ("mean", "first", "max")


def check_media_options(o: IngestOptions) -> None:
    if not o.asr or not isinstance(o.asr, str):
        raise ConfigError("IngestOptions.asr must name a speech-to-text backend or 'none'")
    backend = o.asr.partition(":")[0]
    if o.asr != "none" and "." not in backend:  # a dotted path is checked when loaded
        from polyseek.asr import backend_names

        if backend not in backend_names():
            raise ConfigError(
                f"unknown speech-to-text backend (asr) {o.asr!r}",
                hint=f"valid: {', '.join(backend_names())}, or none",
            )
    if not (o.moment_max_s > 0):
        raise ConfigError("IngestOptions.moment_max_s must be positive")
    if not (0 < o.scene_threshold <= 1):
        raise ConfigError("IngestOptions.scene_threshold must be in (0, 1]")
    if not (0 < o.scene_fps <= 60):
        raise ConfigError("IngestOptions.scene_fps must be in (0, 60]")
    if o.keyframes < 1:
        raise ConfigError("IngestOptions.keyframes must be at least 1")
    if o.keyframe_side < 16:
        raise ConfigError("IngestOptions.keyframe_side must be at least 16 pixels")
    if o.keyframe_pooling not in KEYFRAME_POOLINGS:
        raise ConfigError(
            f"unknown keyframe pooling {o.keyframe_pooling!r}",
            hint=f"valid: {', '.join(KEYFRAME_POOLINGS)}",
        )
