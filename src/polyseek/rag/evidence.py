"""Retrieval of evidence for a question, sentence splitting and text-encoder scoring."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from polyseek.rag.base import Evidence

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.rag.base import Searcher
    from polyseek.rerank.base import Reranker as SearchReranker
    from polyseek.search.base import Ranking

# A sentence ends at . ! or ? followed by space and a capital, digit or quote; lines and
# markdown headings are separate sentences too.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n\s*\n|\n(?=#)")
MIN_SENTENCE_CHARS = 20


@dataclass(frozen=True)
class Sentence:
    evidence_id: int
    text: str


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (whitespace collapsed), dropping fragments under 20 chars."""
    out = []
    for part in _SENTENCE_END.split(text):
        s = " ".join(part.split()).lstrip("# ").strip()
        if len(s) >= MIN_SENTENCE_CHARS:
            out.append(s)
    return out


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

    ``ranking`` is how to search (default: the default ranking). Unless it names
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
            )
        )
    return evidence


def evidence_sentences(evidence: Sequence[Evidence]) -> list[Sentence]:
    return [Sentence(e.id, s) for e in evidence for s in split_sentences(e.text)]


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
