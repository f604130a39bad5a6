"""``ask``: retrieve -> (rerank) -> answer with citations, from an open :class:`Engine`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from polyseek.errors import QueryError
from polyseek.rag.base import Answer, Evidence, FewShotExample, Generator
from polyseek.rag.defaults import DEFAULT_SUPPORT, DEFAULT_THRESHOLD
from polyseek.rag.evidence import retrieve, text_encoder
from polyseek.rag.extractive import ExtractiveAnswerer
from polyseek.rag.generative import GenerativeAnswerer
from polyseek.rag.support import NliModel

if TYPE_CHECKING:
    from polyseek.rag.base import Searcher
    from polyseek.rerank.base import Reranker as SearchReranker
    from polyseek.search.base import Ranking

logger = logging.getLogger(__name__)

Reranker = Callable[[str, list[Evidence]], list[Evidence]]
"""Reorders (and may cut) the retrieved evidence for a question."""


def ask(
    engine: Searcher,
    question: str,
    *,
    top: int = 8,
    generator: Generator | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    support_threshold: float = DEFAULT_SUPPORT,
    policy: Literal["drop", "flag"] = "drop",
    examples: list[FewShotExample] | None = None,
    reranker: Reranker | SearchReranker | None = None,
    ranking: Ranking | None = None,
    max_sentences: int = 2,
    nli: str | NliModel | None = None,
    lock: AbstractContextManager[object] | None = None,
) -> Answer:
    """Answer ``question`` from the collection, citing evidence on every sentence.

    Without a ``generator`` the answer is extractive: the evidence sentences that best
    answer it (:mod:`polyseek.rag.scoring`), each cited with its own span. When no
    sentence scores ``threshold`` the answer is "no answer in the collection". A
    ``generator``'s sentences are each checked against the evidence they cite
    (:mod:`polyseek.rag.support`, ``support_threshold``; with ``nli``, a local NLI
    cross-encoder folder, entailment too); unsupported ones are dropped (``policy="flag"``
    keeps them, marked). ``reranker`` is a :class:`polyseek.rerank.Reranker`
    (cross-encoder, ``late:minilm``; it re-scores the retrieved candidates and then the
    best sentences) or any callable reordering the evidence. ``ranking`` is how evidence
    is searched (default: hybrid BM25 + dense, with the index's text encoder); its
    ``rerank`` also re-scores sentences. ``lock`` guards the engine's encoders (the
    server shares them between threads); generation runs outside it.
    """
    from polyseek.rerank.base import Reranker as SearchReranker

    if not question.strip():
        raise QueryError("the question is empty")
    if top < 1:
        raise QueryError(f"top must be at least 1, got {top}")
    guard = lock if lock is not None else nullcontext()
    nli_model = NliModel(nli) if isinstance(nli, str) else nli
    with guard:
        search_reranker = reranker if isinstance(reranker, SearchReranker) else None
        sentence_reranker = search_reranker or (ranking.reranker if ranking else None)
        evidence = retrieve(engine, question, top=top, rerank=search_reranker, ranking=ranking)
        if reranker is not None and search_reranker is None:
            evidence = [
                replace(e, id=i + 1)
                for i, e in enumerate(reranker(question, evidence))  # type: ignore[operator]
            ]
        encoder = text_encoder(engine)
        if generator is None:
            extractive = ExtractiveAnswerer(
                threshold=threshold, max_sentences=max_sentences, reranker=sentence_reranker
            )
            return extractive.answer(question, evidence, encoder)
    answerer = GenerativeAnswerer(
        generator,
        threshold=threshold,
        support_threshold=support_threshold,
        policy=policy,
        examples=list(examples or []),
        nli=nli_model,
    )
    # The encoder is used again for the post-check; hold the lock only around its calls.
    return answerer.answer(question, evidence, _Locked(encoder, guard))  # type: ignore[arg-type]


class _Locked:
    """An encoder whose embedding calls take a lock (generation itself does not)."""

    def __init__(self, encoder: object, lock: AbstractContextManager[object]) -> None:
        self._encoder = encoder
        self._lock = lock

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._encoder, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            with self._lock:
                return attr(*args, **kwargs)

        return call
