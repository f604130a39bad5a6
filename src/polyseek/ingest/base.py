"""The loader protocol: a source file in, items with provenance out.

A loader raises :class:`polyseek.errors.IngestError` (path + reason) for bad input;
the indexer records it and goes on with the other files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from polyseek.ingest.options import IngestOptions
from polyseek.registry import Registry
from polyseek.types import Item


@runtime_checkable
class Loader(Protocol):
    name: str  # "text", "image", "pdf"
    extensions: frozenset[str]  # lower-case, with the dot: {".txt", ".md"}

    def load(self, path: Path, source: str) -> list[Item]:
        """Read ``path`` (``source`` is its collection-relative name) into items.

        Raises IngestError with a reason a user understands when the file is bad.
        """
        ...


LoaderFactory = Callable[[IngestOptions], Loader]
"""Builds a loader from options; loader classes are their own factories."""

LOADERS: Registry[LoaderFactory] = Registry("loader")
"""Loaders by source kind (``"text"``, ``"image"``, ``"pdf"``): ``@LOADERS.register("pdf")``."""


class BaseLoader(ABC):
    """Shared plumbing of the built-in loaders: options, and ``load`` over ``iter_load``."""

    name: str
    extensions: frozenset[str]

    def __init__(self, options: IngestOptions | None = None) -> None:
        from polyseek.ingest.options import DEFAULT_OPTIONS

        self.options = options or DEFAULT_OPTIONS

    def load(self, path: Path, source: str) -> list[Item]:
        return list(self.iter_load(path, source))

    @abstractmethod
    def iter_load(self, path: Path, source: str) -> Iterator[Item]:
        """Yield items one by one (long documents need not be held in memory at once)."""
