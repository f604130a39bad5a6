"""One exception tree: everything polyseek raises derives from :class:`PolyseekError`.

Messages say what went wrong and, where there is one, how to fix it (``hint``).
"""

from __future__ import annotations


class PolyseekError(Exception):
    """Base class of every error polyseek raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\nHint: {hint}" if hint else message)


class ConfigError(PolyseekError):
    """Invalid configuration, unknown plugin name or bad argument."""


class MissingDependencyError(ConfigError):
    """An optional extra is not installed; the hint says which one."""


class IngestError(PolyseekError):
    """A source file could not be read; carries the path and the reason."""

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}", hint=hint)


class EncoderError(PolyseekError):
    """An encoder could not be loaded or used."""


class EncoderMismatchError(EncoderError):
    """The query encoder differs from the one the index was built with."""


class StoreError(PolyseekError):
    """The index on disk is missing, locked or inconsistent."""


class CollectionNotFoundError(StoreError):
    """No index exists at the given place."""


class DamagedIndexError(StoreError):
    """A table, index or file of the index cannot be read: its data on disk is damaged.

    ``part`` names what is damaged (a table such as ``items``, ``the full-text index of
    items``, ``manifest.json``). The collection is the source of truth, so the hint always
    says how to get a working index back (``polyseek repair``).
    """

    def __init__(self, part: str, message: str, *, hint: str | None = None) -> None:
        self.part = part
        super().__init__(message, hint=hint)


class DiskFullError(StoreError):
    """The disk holding the index is full; what was committed before stays readable."""


class QueryError(PolyseekError):
    """A search request cannot be answered (e.g. no encoder for the query's modality)."""


__all__ = [
    "CollectionNotFoundError",
    "ConfigError",
    "DamagedIndexError",
    "DiskFullError",
    "EncoderError",
    "EncoderMismatchError",
    "IngestError",
    "MissingDependencyError",
    "PolyseekError",
    "QueryError",
    "StoreError",
]
