"""Rerankers: re-score a short list of candidates with a stronger (slower) model.

``load_reranker(spec)`` resolves ``BACKEND:MODEL`` through :data:`RERANKERS`:

* ``cross-encoder:NAME_OR_DIR`` -- a sentence-transformers ``CrossEncoder``
* ``mllm-endpoint:MODEL@URL`` -- a vision-language model behind an OpenAI-compatible API
* ``mllm:NAME_OR_DIR`` -- a transformers vision-language model, prompt-and-rerank
* ``late:minilm`` / ``late:NAME_OR_DIR`` -- late interaction (ColBERT-style MaxSim) over the
  token vectors of the bundled MiniLM or another sentence-transformers model
* ``colpali:NAME_OR_DIR`` -- late interaction over page images: MaxSim of a ColPali or
  ColQwen2 model's query tokens against every token of each candidate's stored page image

A registered factory takes the ``MODEL`` part; add your own with
``RERANKERS.register("name")`` on a :class:`Reranker` subclass or factory function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from polyseek import registry as _registry
from polyseek.errors import ConfigError as _ConfigError
from polyseek.hub import loading_model as _loading_model
from polyseek.rerank.base import Candidate, Reranker

RerankerFactory = Callable[[str], Reranker]

RERANKERS: _registry.Registry[RerankerFactory] = _registry.Registry("reranker")
RERANKERS.register_lazy("cross-encoder", "polyseek.rerank.cross_encoder:CrossEncoderReranker")
RERANKERS.register_lazy("mllm-endpoint", "polyseek.rerank.mllm:endpoint_reranker")
RERANKERS.register_lazy("mllm", "polyseek.rerank.mllm:TransformersVLMReranker")
RERANKERS.register_lazy("late", "polyseek.rerank.late_interaction:LateInteractionReranker")
RERANKERS.register_lazy("colpali", "polyseek.rerank.colpali:ColPaliReranker")

RERANKER_BACKENDS = tuple(RERANKERS.names())

_cache: dict[str, Reranker] = {}
_cache_lock = threading.Lock()


def load_reranker(spec: str) -> Reranker:
    """The reranker ``BACKEND:MODEL`` names (a new instance each call)."""
    backend, sep, model = spec.partition(":")
    if not sep or not model:
        raise _ConfigError(
            f"bad reranker spec {spec!r}",
            hint=f"write BACKEND:MODEL with BACKEND one of {', '.join(RERANKERS.names())}",
        )
    if backend not in RERANKERS and "." not in backend:
        raise _ConfigError(
            f"unknown reranker backend {backend!r}",
            hint=f"valid backends: {', '.join(RERANKERS.names())}",
        )
    factory = RERANKERS.resolve(backend)
    with _loading_model(spec):
        return factory(model)


def cached_reranker(spec: str) -> Reranker:
    """:func:`load_reranker`, once per process and spec (searches name rerankers by spec)."""
    with _cache_lock:
        found = _cache.get(spec)
        if found is None:
            found = _cache[spec] = load_reranker(spec)
        return found


__all__ = [
    "RERANKERS",
    "RERANKER_BACKENDS",
    "Candidate",
    "Reranker",
    "RerankerFactory",
    "cached_reranker",
    "load_reranker",
]
