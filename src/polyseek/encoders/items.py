"""Items to vectors: which part of an item each kind of encoder embeds.

* a text encoder embeds the item's text (chunks, OCR text, page text layers, transcripts),
  passage by passage when the item has ``passages`` (one row each, in order);
* an audio-text encoder (CLAP) the sound of audio segments and video moments;
* a late-interaction encoder (ColPali) the picture of every item that has one (a page
  render, an image, a region's crop, a moment's thumbnail): one row per pooled token
  vector, in order;
* an image-text encoder the picture: an image, a page render, a video moment's keyframes
  (pooled into one vector, or with ``pooling="max"`` one row per keyframe); an item with
  no picture but some text through its text tower, so that an image query can reach text
  items too (every query modality reaches every item modality).

Items without what an encoder embeds get no row from it.
"""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import Encoder, LateInteractionEncoder
from polyseek.types import Item


def embed_items(
    enc: Encoder, items: list[Item], pooling: str = "mean"
) -> tuple[list[str], np.ndarray]:
    """``(item ids, vectors)``: one row per embedded item (per keyframe with ``max``)."""
    if enc.kind == "text":
        return _embed_texts(enc, items)
    if enc.kind == "audio-text":  # CLAP: the sound of audio segments and video moments
        heard = [it for it in items if it.audio is not None and len(it.audio)]
        if not heard:
            return [], np.zeros((0, enc.info.dim), np.float32)
        return [it.id for it in heard], enc.embed_audio([it.audio for it in heard])  # type: ignore[misc]
    if isinstance(enc, LateInteractionEncoder):  # ColPali: a row per pooled page token
        return _embed_token_rows(enc, [it for it in items if it.image is not None])
    ids, vectors = _embed_pictures(enc, [it for it in items if it.image is not None], pooling)
    texts = [it for it in items if it.image is None and it.text.strip()]
    if texts:
        ids = [*ids, *(it.id for it in texts)]
        vectors = np.concatenate([vectors, enc.embed_documents([it.text for it in texts])])
    return ids, vectors


def _embed_pictures(enc: Encoder, chosen: list[Item], pooling: str) -> tuple[list[str], np.ndarray]:
    if not chosen:
        return [], np.zeros((0, enc.info.dim), np.float32)
    if any(it.keyframes for it in chosen) and pooling == "max":  # a row per keyframe
        from polyseek.encoders.pooling import embed_item_keyframes

        return embed_item_keyframes(enc, chosen)
    if any(it.keyframes for it in chosen):  # video moments: pooled keyframe embeddings
        from polyseek.encoders.pooling import embed_item_images

        return [it.id for it in chosen], embed_item_images(enc, chosen, pooling)
    return [it.id for it in chosen], enc.embed_images([it.image for it in chosen])  # type: ignore[misc]


def _embed_token_rows(
    enc: LateInteractionEncoder, chosen: list[Item]
) -> tuple[list[str], np.ndarray]:
    if not chosen:
        return [], np.zeros((0, enc.info.dim), np.float32)
    matrices = enc.embed_image_tokens([it.image for it in chosen])  # type: ignore[misc]
    ids = [it.id for it, m in zip(chosen, matrices, strict=True) for _ in range(len(m))]
    return ids, np.concatenate(matrices).astype(np.float32, copy=False)


def _embed_texts(enc: Encoder, items: list[Item]) -> tuple[list[str], np.ndarray]:
    """Text rows: one per passage (row k is passage k) or one for the whole text.

    A text region of a PDF page (``metadata["page_chars"] = [a, b]``, its text
    ``page.text[a:b]``) is made of passages of its page: their vectors are reused, not
    embedded again (the page item comes before its regions in the same batch).
    """
    ids: list[str] = []
    rows: list[int] = []  # index into ``texts`` of each output row
    texts: list[str] = []
    page_spans: dict[tuple[str, int | None], dict[tuple[int, int], int]] = {}
    for it in items:
        spans = [(p.char_start, p.char_end) for p in it.passages]
        if not spans and it.text.strip():
            spans = [(0, len(it.text))]
        shared = page_spans.get((it.source, it.locator.page), {})
        offset = (it.metadata.get("page_chars") or [None])[0] if it.locator.region else None
        own: dict[tuple[int, int], int] = {}
        for a, b in spans:
            known = shared.get((offset + a, offset + b)) if offset is not None else None
            if known is None:
                known = len(texts)
                texts.append(it.text[a:b])
            own[(a, b)] = known
            ids.append(it.id)
            rows.append(known)
        if it.modality == "page" and it.locator.region is None:
            page_spans[(it.source, it.locator.page)] = own
    if not ids:
        return [], np.zeros((0, enc.info.dim), np.float32)
    vectors = enc.embed_documents(texts)
    return ids, vectors[np.asarray(rows, dtype=np.int64)]


__all__ = ["embed_items"]
