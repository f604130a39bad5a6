"""The loader protocol: a source file in, items with provenance out.

A loader raises :class:`polyseek.errors.IngestError` (path + reason) for bad input;
the indexer records it and goes on with the other files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

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
