"""Which encoder embeds queries for which vectors, while encoders change.

:class:`QueryEncoders` is the :class:`~polyseek.search.base.EncoderSource` the query
embedder reads (the indexer keeps reading the collection itself):

* an encoder being backfilled is queried like any other: its list holds the items it
  has embedded so far, and fusion ranks the others on what they have;
* during an upgrade OLD -> NEW, OLD's vectors are searched with NEW's query vectors
  mapped by the adapter (:class:`AdaptedEncoder`, which stands in for OLD), and NEW's
  own, still partial, vectors are not searched until the switch;
* a manifest another process replaced (``polyseek encoders ...`` beside a running
  server) is re-read at the next query: one ``stat`` per query.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from polyseek.encoders.base import Encoder, EncoderInfo
from polyseek.lifecycle.adapter import Adapter
from polyseek.store.lancedb import LanceStore

if TYPE_CHECKING:
    from PIL.Image import Image

    from polyseek.collection import Collection


class AdaptedEncoder(Encoder):
    """NEW's query towers followed by the adapter into OLD's space (``info`` is OLD's)."""

    def __init__(self, new: Encoder, adapter: Adapter, old_info: EncoderInfo) -> None:
        self.new = new
        self.adapter = adapter
        self.info = old_info

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.adapter.apply(self.new.embed_queries(texts))

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        return self.adapter.apply(self.new.embed_images(images))


class QueryEncoders:
    """The encoders queries go through (see the module docstring)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._adapted: dict[tuple[str, str], AdaptedEncoder] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        store = self.collection.store
        if isinstance(store, LanceStore):
            store.reload_manifest()

    @property
    def encoder_infos(self) -> tuple[EncoderInfo, ...]:
        self._refresh()
        m = self.collection.store.manifest
        adapted = {a.new for a in m.adapters}
        return tuple(i for i in m.encoders if i.spec not in adapted)

    def encoder(self, info: EncoderInfo) -> Encoder:
        m = self.collection.store.manifest
        record = next((a for a in m.adapters if a.old == info.spec), None)
        if record is None:
            return self.collection.encoder(info)
        with self._lock:
            found = self._adapted.get((record.new, record.file))
            if found is None:
                new_info = next(e for e in m.encoders if e.spec == record.new)
                adapter = Adapter.load(self.collection.store.path / record.file)
                found = AdaptedEncoder(self.collection.encoder(new_info), adapter, info)
                self._adapted[(record.new, record.file)] = found
        return found


__all__ = ["AdaptedEncoder", "QueryEncoders"]
