"""Page-image late-interaction reranking: MaxSim of ColPali / ColQwen2 tokens at query time.

``colpali:NAME_OR_DIR`` takes the model the way the ``colpali`` encoder does (a local
folder, or a hub name in the local cache; offline, an unavailable model fails at once with
an :class:`~polyseek.errors.EncoderError` and a hint), through
:func:`polyseek.encoders.load_encoder`, so an index that already searches with the same
ColPali model shares the loaded weights.

Each candidate is scored by MaxSim -- the sum over the query's tokens of the best dot
product with any token of the candidate's page image -- as the first stage scores it, but
against **every** token of the page (no pooling: nothing is stored, so nothing is lost to
storage). The page image is the candidate's stored preview (``Candidate.image_path``: the
page render or picture the index kept, at most 512 px on its longer side); candidates
without one (text chunks, transcripts) or whose file cannot be read get the lowest score,
below every scored candidate. An empty query gives every candidate the same score, so the
first-stage order is kept.

Page token matrices are a pure function of the image file for a given model, so they are
kept in a bounded in-memory LRU cache (``cache_mb``, keyed by the file's path, size and
modification time): a page among the candidates of many queries is encoded once. A page
costs ``tokens x dim x 4`` bytes (about 0.5 MB for ColPali's 1030 x 128), so the default
256 MB holds about 500 pages.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from polyseek.encoders.base import LateInteractionEncoder
from polyseek.errors import ConfigError, EncoderError
from polyseek.rerank.base import Candidate, Reranker

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)

CACHE_MB = 256

PageKey = tuple[str, int, int]  # path, size, mtime_ns


class ColPaliReranker(Reranker):
    """MaxSim between a query's tokens and every token of each candidate's page image."""

    def __init__(self, model: str, *, cache_mb: float = CACHE_MB) -> None:
        from polyseek.encoders import load_encoder

        model = model.strip()
        if not model:
            raise ConfigError(
                "the ColPali reranker needs a model",
                hint="colpali:NAME_OR_DIR, e.g. colpali:vidore/colpali-v1.3-hf or a local folder",
            )
        if cache_mb < 0:
            raise ConfigError(f"cache_mb must be 0 (no cache) or more, got {cache_mb}")
        self.name = f"colpali:{model}"
        try:
            encoder = load_encoder(f"colpali:{model}")
        except EncoderError as exc:
            raise EncoderError(
                f"cannot load the ColPali reranker model {model!r}: {exc.message}",
                hint=exc.hint,
            ) from exc
        if not isinstance(encoder, LateInteractionEncoder):  # pragma: no cover - by spec
            raise EncoderError(f"colpali:{model} is not a late-interaction encoder")
        self._encoder = encoder
        self._cache_bytes = int(cache_mb * 2**20)
        self._cache: OrderedDict[PageKey, np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def describe(self) -> dict[str, str]:
        return {"reranker": self.name, "model_revision": self._encoder.info.revision}

    def score(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        keys = [_page_key(c.image_path) for c in candidates]
        if not query.strip() or not any(keys):
            return [0.0] * len(candidates)
        q = self._encoder.embed_query_tokens([query])[0]
        pages = self._pages([k for k in keys if k is not None])
        out: list[float | None] = [None] * len(candidates)
        for i, key in enumerate(keys):
            tokens = pages.get(key) if key is not None else None
            if tokens is not None:
                out[i] = float((tokens @ q.T).max(axis=0).sum())
        scored = [v for v in out if v is not None]
        if not scored:
            return [0.0] * len(candidates)
        floor = min(scored) - 1.0  # candidates without a readable picture go last
        return [floor if v is None else v for v in out]

    def _pages(self, keys: Sequence[PageKey]) -> dict[PageKey, np.ndarray | None]:
        """Every page's token matrix (None: its file cannot be read), from the cache or
        encoded in one call."""
        found: dict[PageKey, np.ndarray | None] = {}
        with self._lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        images: list[Image] = []
        readable: list[PageKey] = []
        for key in missing:
            image = _open(Path(key[0]))
            if image is None:
                found[key] = None
            else:
                images.append(image)
                readable.append(key)
        if images:
            logger.debug("%s: encoding %d candidate pages", self.name, len(images))
            encoded = self._encoder.embed_image_tokens(images, pooled=False)
            found.update(zip(readable, encoded, strict=True))
            self._remember(dict(zip(readable, encoded, strict=True)))
        return found

    def _remember(self, pages: dict[PageKey, np.ndarray]) -> None:
        if not self._cache_bytes:
            return
        with self._lock:
            for key, tokens in pages.items():
                if key in self._cache or tokens.nbytes > self._cache_bytes:
                    continue
                self._cache[key] = tokens
                self._cached_bytes += tokens.nbytes
            while self._cached_bytes > self._cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._cached_bytes -= old.nbytes


def _page_key(path: Path | None) -> PageKey | None:
    if path is None:
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def _open(path: Path) -> Image | None:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, PILImage.DecompressionBombError) as exc:
        logger.warning("cannot read the page image %s for reranking: %s", path, exc)
        return None


__all__ = ["ColPaliReranker"]
