"""The encoder protocol: weights + preprocessing + tokenizer + metric, described by EncoderInfo.

Two kinds of encoder exist:

* ``text``: embeds the text of every item (chunks, OCR text, page text layers) and
  text queries (``embed_queries`` / ``embed_documents``, asymmetric on purpose).
* ``image-text``: a two-tower model (CLIP, SigLIP, open_clip) that embeds images
  (image items, PDF page renders, image queries) and text queries into one space.
* ``audio-text``: a two-tower model (CLAP) that embeds sound (audio segments, video
  moments' soundtracks) and text queries into one space.
* ``late-interaction``: a multi-vector model (ColPali, ColQwen2) that embeds a page image
  into a matrix of token vectors and a text query into another; relevance is MaxSim, the
  sum over query tokens of the best dot product with any page token
  (:class:`LateInteractionEncoder`). An item owns several vector rows, one per token.

An encoder is named by a spec string ``backend:model`` (``minilm``,
``clip:openai/clip-vit-base-patch32``, ``open_clip:ViT-B-32/laion2b_s34b_b79k``,
``clip:/path/to/local/dir``); see :func:`polyseek.encoders.load_encoder`.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

EncoderKind = Literal["text", "image-text", "audio-text", "late-interaction"]


@dataclass(frozen=True)
class EncoderInfo:
    """What the index records about an encoder, and checks at query time."""

    spec: str  # the spec string the user gave, e.g. "clip:/models/clip-b32"
    kind: EncoderKind
    revision: str  # fingerprint of the weights/config (hub commit, file hash, package version)
    dim: int
    metric: str = "cosine"
    normalized: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderInfo:
        return cls(**data)

    @property
    def key(self) -> str:
        """A short, filesystem- and table-name-safe key for this encoder's vector table."""
        import hashlib

        return "v_" + hashlib.sha1(self.spec.encode()).hexdigest()[:10]


EMBEDDING_METHODS = (
    "embed_queries",
    "embed_documents",
    "embed_images",
    "embed_audio",
    "embed_query_tokens",
    "embed_image_tokens",
)
_LOCKS_GUARD = threading.Lock()


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``method`` holding the encoder's own lock (see :class:`Encoder`)."""

    @functools.wraps(method)
    def call(self: Encoder, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    call.__polyseek_locked__ = True  # type: ignore[attr-defined]
    return call


class Encoder(ABC):
    """Base class of every encoder backend. Outputs are float32, L2-normalised rows.

    Encoders are loaded once per process and shared (the server's searches and its
    background index run use the same model), but tokenizers and models are not safe to
    call from two threads at once: every ``embed_*`` method of every subclass runs under
    the encoder's own re-entrant :attr:`lock`, so concurrent callers take turns.
    """

    info: EncoderInfo

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in EMBEDDING_METHODS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__polyseek_locked__", False):
                setattr(cls, name, _locked(method))

    @property
    def lock(self) -> AbstractContextManager[bool]:
        """The lock every embedding call of this encoder holds."""
        found: AbstractContextManager[bool] | None = self.__dict__.get("_embed_lock")
        if found is None:
            with _LOCKS_GUARD:
                found = self.__dict__.setdefault("_embed_lock", threading.RLock())
        return found

    @property
    def kind(self) -> EncoderKind:
        return self.info.kind

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (may add a query prompt/instruction)."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed item texts. Text encoders must override; image-text ones need not."""
        from polyseek.errors import EncoderError

        raise EncoderError(f"encoder {self.info.spec!r} does not embed documents as text")

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        """Embed images. Only image-text encoders support this."""
        from polyseek.errors import EncoderError

        raise EncoderError(
            f"encoder {self.info.spec!r} is a text encoder and cannot embed images",
            hint="index with an image-text encoder too, e.g. --encoder clip:<hub name or dir>",
        )

    def embed_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Embed sound (mono float32 at 16 kHz, one array per item). Audio-text encoders only."""
        from polyseek.errors import EncoderError

        raise EncoderError(f"encoder {self.info.spec!r} cannot embed audio")


class LateInteractionEncoder(Encoder):
    """A multi-vector encoder: each query and each image becomes a matrix of token vectors.

    :meth:`embed_query_tokens` and :meth:`embed_image_tokens` are the real outputs (rows
    L2-normalised; an image's tokens pooled to at most :attr:`max_vectors` rows unless
    ``pooled=False``). The one-vector methods of :class:`Encoder` stay usable by generic
    code: ``embed_queries`` / ``embed_images`` give the normalised mean of the tokens, a
    rough summary that no ranking of this kind relies on.
    """

    max_vectors: int

    @abstractmethod
    def embed_query_tokens(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One ``(tokens, dim)`` float32 matrix per query, rows L2-normalised."""

    @abstractmethod
    def embed_image_tokens(
        self, images: Sequence[Image], *, pooled: bool = True
    ) -> list[np.ndarray]:
        """One ``(vectors, dim)`` float32 matrix per image, rows L2-normalised.

        ``pooled`` (the default, what the index stores): at most :attr:`max_vectors` rows;
        ``pooled=False``: every token the model outputs (for reranking, where nothing is
        stored).
        """

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _token_means(self.embed_query_tokens(texts), self.info.dim)

    def embed_images(self, images: Sequence[Image]) -> np.ndarray:
        return _token_means(self.embed_image_tokens(images, pooled=False), self.info.dim)


def _token_means(matrices: list[np.ndarray], dim: int) -> np.ndarray:
    if not matrices:
        return np.zeros((0, dim), np.float32)
    return l2_normalize(np.stack([m.mean(axis=0) for m in matrices]))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms
