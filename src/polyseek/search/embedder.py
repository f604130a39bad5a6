"""Query vectors: each query embedded by every encoder of the index that applies to it.

Text-only queries are embedded in one batch per encoder (one at a time is ~10x slower);
image, composed (image + text) and clip queries one by one: a video clip by the
image-text encoders (its keyframes), an audio clip by the audio-text ones (its sound).
A late-interaction encoder (ColPali) gives a text query's token matrix (tokens x dim)
instead of a vector, and takes no image queries. With a ``cache`` (a dict), a query
embedded before is not embedded again: the evaluator runs the same queries under several
ranking options.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyseek.encoders.base import Encoder, EncoderInfo, LateInteractionEncoder, l2_normalize
from polyseek.errors import QueryError
from polyseek.search.base import EncoderSource, Query, QueryVectors
from polyseek.search.moments import embed_clip, embed_sound, is_audio_path, is_video_path

if TYPE_CHECKING:
    from PIL.Image import Image

CacheKey = tuple[str, str | None, str | None, float]
TEXT_BATCH = 64


class QueryEmbedder:
    """Embeds queries with the encoders of an index (``encoders``: a Collection)."""

    def __init__(
        self, encoders: EncoderSource, cache: MutableMapping[CacheKey, np.ndarray] | None = None
    ) -> None:
        self.encoders = encoders
        self.cache = cache

    def applicable(self, q: Query) -> list[EncoderInfo]:
        """The encoders that embed ``q`` (none for lexical-only search)."""
        if q.text is None and q.image is None:
            raise QueryError("a query needs text, an image, or both")
        if not q.ranking.dense:
            return []
        wanted = q.ranking.encoders
        infos = [i for i in self.encoders.encoder_infos if not wanted or i.spec in wanted]
        if q.image is not None:
            kind = "audio-text" if is_audio_path(q.image) else "image-text"
            infos = [i for i in infos if i.kind == kind]
            if not infos:
                raise self._no_encoder(q, kind)
        return infos

    def _no_encoder(self, q: Query, kind: str) -> QueryError:
        """The error for a picture or clip query that no encoder of the index embeds."""
        specs = [i.spec for i in self.encoders.encoder_infos]
        what, example = "image queries", "clip:openai/clip-vit-base-patch32"
        if kind == "audio-text":
            what = "audio clip queries (matched by their sound)"
            example = "clap:laion/clap-htsat-unfused"
        elif is_video_path(q.image):
            what = "video clip queries (matched by their keyframes)"
        return QueryError(
            f"{what} need an {kind} encoder, and this index has none (encoders: {specs})",
            hint=f"re-index with one, e.g. `polyseek index DIR --rebuild "
            f"--encoder minilm --encoder {example}`",
        )

    def embed(self, queries: Sequence[Query]) -> list[QueryVectors]:
        """One ``{encoder: vector}`` per query, text-only queries batched per encoder."""
        plans = [(q, self.applicable(q)) for q in queries]
        texts: dict[EncoderInfo, set[str]] = {}
        for q, infos in plans:
            if q.image is None:
                for info in infos:
                    if self._cached(info, q) is None:
                        texts.setdefault(info, set()).add(q.text or "")
        batch: dict[tuple[str, str], np.ndarray] = {}
        for info, todo in texts.items():
            ordered = sorted(todo)
            encoder = self.encoders.encoder(info)
            for start in range(0, len(ordered), TEXT_BATCH):
                chunk = ordered[start : start + TEXT_BATCH]
                for text, vec in zip(chunk, _text_vectors(encoder, chunk), strict=True):
                    batch[(info.spec, text)] = vec
        out = []
        for q, infos in plans:
            vectors: QueryVectors = {}
            for info in infos:
                found = self._cached(info, q)
                if found is None:
                    if q.image is None:
                        found = batch[(info.spec, q.text or "")]
                    else:
                        found = self.vector(self.encoders.encoder(info), q)
                    self._remember(info, q, found)
                vectors[info] = found
            out.append(vectors)
        return out

    @staticmethod
    def vector(encoder: Encoder, q: Query) -> np.ndarray:
        """One query's vector from one encoder: text, image, clip, or image + text."""
        if q.image is None:
            return _text_vectors(encoder, [q.text or ""])[0]
        if is_video_path(q.image):  # a clip as the query: its keyframes, pooled
            img_vec = embed_clip(encoder, q.image)  # type: ignore[arg-type]
        elif is_audio_path(q.image):  # a sound clip: its sound (an audio-text encoder)
            img_vec = embed_sound(encoder, q.image)  # type: ignore[arg-type]
        else:
            img_vec = encoder.embed_images([open_query_image(q.image)])[0]
        if not q.text:
            return img_vec
        txt_vec = encoder.embed_queries([q.text])[0]
        w = q.image_weight
        return l2_normalize((w * img_vec + (1 - w) * txt_vec)[None, :])[0]

    # ------------------------------------------------------------------ cache
    @staticmethod
    def _key(info: EncoderInfo, q: Query) -> CacheKey | None:
        if q.image is not None and not isinstance(q.image, (str, Path)):
            return None  # a PIL image has no stable key
        image = None if q.image is None else str(q.image)
        weight = q.image_weight if image is not None and q.text else 0.0
        return (info.spec, q.text, image, weight)

    def _cached(self, info: EncoderInfo, q: Query) -> np.ndarray | None:
        if self.cache is None or (key := self._key(info, q)) is None:
            return None
        return self.cache.get(key)

    def _remember(self, info: EncoderInfo, q: Query, vec: np.ndarray) -> None:
        if self.cache is not None and (key := self._key(info, q)) is not None:
            self.cache[key] = vec


def _text_vectors(encoder: Encoder, texts: list[str]) -> Sequence[np.ndarray]:
    """Text queries' vectors; token matrices from a late-interaction encoder (MaxSim)."""
    if isinstance(encoder, LateInteractionEncoder):
        return encoder.embed_query_tokens(texts)
    return list(encoder.embed_queries(texts))


def open_query_image(image: Image | Path | str) -> Any:
    """A query image prepared as the image loader prepares an indexed one
    (:func:`~polyseek.ingest.image.encoder_picture`: upright, RGB, bounded), so that an
    indexed file given as the query gets its stored vector; a path that cannot be read is
    a :class:`QueryError`."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from polyseek.ingest.image import encoder_picture

    if not isinstance(image, (str, Path)):
        return encoder_picture(image)
    path = Path(image).expanduser()
    try:
        with PILImage.open(path) as img:
            img.load()
            return encoder_picture(img)
    except FileNotFoundError as exc:
        raise QueryError(f"{path}: no such image file") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise QueryError(f"{path}: cannot read the query image ({exc})") from exc


__all__ = ["QueryEmbedder", "open_query_image"]
