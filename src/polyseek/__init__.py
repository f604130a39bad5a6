"""polyseek: universal multimodal retrieval, offline first.

The public API is listed in ``__all__``; everything else is private. Names are imported
on first use, so ``import polyseek`` (and the CLI's ``--help``) does not load LanceDB,
PyMuPDF or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    DamagedIndexError,
    DiskFullError,
    EncoderError,
    EncoderMismatchError,
    IngestError,
    MissingDependencyError,
    PolyseekError,
    QueryError,
    StoreError,
)
from polyseek.types import MODALITIES, Hit, Item, Locator, Modality, SearchResult

if TYPE_CHECKING:
    from polyseek.collection import Collection, CollectionStatus
    from polyseek.engine import Engine
    from polyseek.indexing import IndexReport
    from polyseek.search.base import Query, Ranking

__version__ = "0.1.0"

_LAZY = {
    "Collection": "polyseek.collection",
    "CollectionStatus": "polyseek.collection",
    "Engine": "polyseek.engine",
    "IndexReport": "polyseek.indexing",
    "Query": "polyseek.search.base",
    "Ranking": "polyseek.search.base",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyseek' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "MODALITIES",
    "Collection",
    "CollectionNotFoundError",
    "CollectionStatus",
    "ConfigError",
    "DamagedIndexError",
    "DiskFullError",
    "EncoderError",
    "EncoderMismatchError",
    "Engine",
    "Hit",
    "IndexReport",
    "IngestError",
    "Item",
    "Locator",
    "MissingDependencyError",
    "Modality",
    "PolyseekError",
    "Query",
    "QueryError",
    "Ranking",
    "SearchResult",
    "StoreError",
    "__version__",
]
