"""polyseek: universal multimodal retrieval, offline first.

The public API is listed in ``__all__``; everything else is private.
"""

from polyseek.engine import CollectionStatus, Engine
from polyseek.errors import (
    CollectionNotFoundError,
    ConfigError,
    EncoderError,
    EncoderMismatchError,
    IngestError,
    MissingDependencyError,
    PolyseekError,
    QueryError,
    StoreError,
)
from polyseek.indexing import IndexReport
from polyseek.search.base import Query
from polyseek.types import MODALITIES, Hit, Item, Locator, Modality, SearchResult

__version__ = "0.1.0"

__all__ = [
    "MODALITIES",
    "CollectionNotFoundError",
    "CollectionStatus",
    "ConfigError",
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
    "SearchResult",
    "StoreError",
    "__version__",
]
