"""Rerankers: re-score a short list of candidates with a stronger (slower) model.

``load_reranker(spec)`` resolves a spec string:

* ``cross-encoder:NAME_OR_DIR`` -- a sentence-transformers ``CrossEncoder``
* ``mllm-endpoint:MODEL@URL`` -- a vision-language model behind an OpenAI-compatible API
* ``mllm:NAME_OR_DIR`` -- a transformers vision-language model, prompt-and-rerank
* ``late:minilm`` / ``late:NAME_OR_DIR`` -- late interaction (ColBERT-style MaxSim) over the
  token vectors of the bundled MiniLM or another sentence-transformers model
"""

from __future__ import annotations

from polyseek.errors import ConfigError as _ConfigError
from polyseek.rerank.base import Candidate, Reranker

RERANKER_BACKENDS = ("cross-encoder", "mllm", "mllm-endpoint", "late")


def load_reranker(spec: str) -> Reranker:
    backend, sep, model = spec.partition(":")
    if not sep or not model:
        raise _ConfigError(
            f"bad reranker spec {spec!r}",
            hint=f"write BACKEND:MODEL with BACKEND one of {', '.join(RERANKER_BACKENDS)}",
        )
    if backend == "cross-encoder":
        from polyseek.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(model)
    if backend == "mllm-endpoint":
        from polyseek.rerank.mllm import EndpointReranker

        name, at, url = model.partition("@")
        if not at or not url:
            raise _ConfigError(
                f"bad reranker spec {spec!r}", hint="write mllm-endpoint:MODEL@http://host:port/v1"
            )
        return EndpointReranker(url, name)
    if backend == "mllm":
        from polyseek.rerank.mllm import TransformersVLMReranker

        return TransformersVLMReranker(model)
    if backend == "late":
        from polyseek.rerank.late_interaction import LateInteractionReranker

        return LateInteractionReranker(model)
    raise _ConfigError(
        f"unknown reranker backend {backend!r}",
        hint=f"valid backends: {', '.join(RERANKER_BACKENDS)}",
    )


__all__ = ["RERANKER_BACKENDS", "Candidate", "Reranker", "load_reranker"]
