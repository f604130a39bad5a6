"""Retrieval of evidence for a question, and text-encoder similarities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from polyseek.rag.base import Evidence

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.rag.base import Searcher
    from polyseek.rerank.base import Reranker as SearchReranker
    from polyseek.search.base import Ranking


def text_encoder(engine: Searcher) -> Encoder:
    """The encoder that scores sentences: the index's text encoder, else its first one."""
    infos = engine.encoder_infos
    info = next((i for i in infos if i.kind == "text"), infos[0])
    return engine.encoder(info)


def retrieve(
    engine: Searcher,
    question: str,
    top: int = 8,
    rerank: SearchReranker | None = None,
    ranking: Ranking | None = None,
) -> list[Evidence]:
    """The ``top`` items for ``question``, with their full text, numbered from 1.

    ``ranking`` is how to search (default: hybrid, BM25 + dense: exact words of the
    question, names and numbers above all, find the chunk that holds them). Unless it names
    encoders, retrieval uses the index's text encoder when it has one: answers are read
    from item texts (chunks, page text, OCR, transcripts), which that encoder embeds.
    A ``rerank`` (:mod:`polyseek.rerank`) re-scores the candidates before the cut.
    """
    from polyseek.search.base import Query, Ranking

    ranking = ranking or Ranking()
    if rerank is not None:
        ranking = replace(ranking, rerank=rerank)
    if not ranking.encoders:
        text_specs = tuple(i.spec for i in engine.encoder_infos if i.kind == "text")
        ranking = replace(ranking, encoders=text_specs[:1])
    result = engine.search_batch([Query(text=question, top=top, ranking=ranking)])[0]
    stored = engine.items([h.item_id for h in result.hits])
    evidence: list[Evidence] = []
    for hit in result.hits:
        item = stored.get(hit.item_id)
        if item is None:
            continue
        evidence.append(
            Evidence(
                id=len(evidence) + 1,
                item_id=hit.item_id,
                source=hit.source,
                modality=hit.modality,
                locator=hit.locator,
                text=item.text,
                score=hit.score,
                preview=engine.preview_file(item),
                metadata=dict(item.metadata),
            )
        )
    return evidence


def similarities(encoder: Encoder, queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
    """Cosine similarity matrix (len(queries), len(docs)); queries embedded as queries."""
    if not queries or not docs:
        return np.zeros((len(queries), len(docs)), dtype=np.float32)
    q = encoder.embed_queries(list(queries))
    d = encoder.embed_documents(list(docs))
    return np.asarray(q @ d.T, dtype=np.float32)


def pairwise_support(encoder: Encoder, claims: Sequence[str], docs: Sequence[str]) -> np.ndarray:
    """Symmetric sentence-to-sentence similarity (both sides embedded as documents)."""
    if not claims or not docs:
        return np.zeros((len(claims), len(docs)), dtype=np.float32)
    c = encoder.embed_documents(list(claims))
    d = encoder.embed_documents(list(docs))
    return np.asarray(c @ d.T, dtype=np.float32)
