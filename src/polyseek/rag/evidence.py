"""Retrieval of evidence for a question, and text-encoder similarities."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from polyseek.rag.base import Evidence
from polyseek.types import Locator, item_id

if TYPE_CHECKING:
    from polyseek.encoders.base import Encoder
    from polyseek.rag.base import Searcher
    from polyseek.rerank.base import Reranker as SearchReranker
    from polyseek.search.base import Ranking
    from polyseek.store.base import StoredItem


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

    Evidence is read at page grain: a hit on a PDF page's layout region brings its whole
    page (whose text holds the region's), a page is evidence once, and a matching table
    region is evidence too, after its page: the page text lists a table's cells one per
    line, the table's rows hold them together ("Impeller nut | M12 | 40 Nm"). Evidence
    locators are the items' own (a hit's points at its matching passage).

    ``ranking`` is how to search (default: hybrid, BM25 + dense: exact words of the
    question, names and numbers above all, find the chunk that holds them). Unless it names
    encoders, retrieval uses the index's text encoder when it has one: answers are read
    from item texts (chunks, page text, OCR, transcripts), which that encoder embeds.
    A ``rerank`` (:mod:`polyseek.rerank`) re-scores the candidates before the cut.
    """
    from polyseek.search.base import Query, Ranking
    from polyseek.search.pipeline import ROLLUP_DEPTH

    # Regions unrolled (as many candidates as page grain reads), grouped here by page.
    ranking = replace(ranking or Ranking(), grain="region")
    if rerank is not None:
        ranking = replace(ranking, rerank=rerank)
    if not ranking.encoders:
        text_specs = tuple(i.spec for i in engine.encoder_infos if i.kind == "text")
        ranking = replace(ranking, encoders=text_specs[:1])
    query = Query(text=question, top=top * ROLLUP_DEPTH, ranking=ranking)
    hits = engine.search_batch([query])[0].hits
    stored = engine.items([h.item_id for h in hits])
    pages = _pages_of(engine, stored.values())
    evidence: list[Evidence] = []
    seen: set[str] = set()
    for hit in hits:
        item = stored.get(hit.item_id)
        if item is None:
            continue
        page = pages.get(item.id)
        picks = [item] if page is None else [page]
        if page is not None and item.locator.region == "table":
            picks.append(item)
        for pick in picks:
            if pick.id not in seen and len(evidence) < top:
                seen.add(pick.id)
                evidence.append(_evidence(engine, pick, len(evidence) + 1, hit.score))
        if len(evidence) >= top:
            break
    return evidence


def _evidence(engine: Searcher, item: StoredItem, id_: int, score: float) -> Evidence:
    return Evidence(
        id=id_,
        item_id=item.id,
        source=item.source,
        modality=item.modality,
        # The item's own locator, not the matching passage's that the hit shows: sentences
        # are cut from (and their spans offset into) the whole item text.
        locator=item.locator,
        text=item.text,
        score=score,
        preview=engine.preview_file(item),
        metadata=dict(item.metadata),
        passages=tuple((p.char_start, p.char_end) for p in item.passages),
    )


def _pages_of(engine: Searcher, items: Iterable[StoredItem]) -> dict[str, StoredItem]:
    """The page item of every layout region among ``items`` (by region id), where indexed."""
    wanted = {
        it.id: item_id(it.source, Locator(page=it.locator.page))
        for it in items
        if it.modality == "page" and it.locator.region is not None and it.locator.page is not None
    }
    found = engine.items(sorted(set(wanted.values()))) if wanted else {}
    return {region: found[page] for region, page in wanted.items() if page in found}


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
