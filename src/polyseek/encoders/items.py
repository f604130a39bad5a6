"""Items to vectors: which part of an item each kind of encoder embeds.

* a text encoder embeds the item's text (chunks, OCR text, page text layers, transcripts),
  passage by passage when the item has ``passages`` (one row each, in order);
* an audio-text encoder (CLAP) the sound of audio segments and video moments;
* an image-text encoder the picture: an image, a page render, a video moment's keyframes
  (pooled into one vector, or with ``pooling="max"`` one row per keyframe).

Items without what an encoder embeds get no row from it.
"""

from __future__ import annotations

import numpy as np

from polyseek.encoders.base import Encoder
from polyseek.types import Item


def embed_items(
    enc: Encoder, items: list[Item], pooling: str = "mean"
) -> tuple[list[str], np.ndarray]:
    """``(item ids, vectors)``: one row per embedded item (per keyframe with ``max``)."""
    if enc.kind == "text":
        ids: list[str] = []
        texts: list[str] = []
        for it in items:
            if it.passages:  # row k is passage k, so every passage gets its row
                for p in it.passages:
                    ids.append(it.id)
                    texts.append(it.text[p.char_start : p.char_end])
            elif it.text.strip():
                ids.append(it.id)
                texts.append(it.text)
        if not ids:
            return [], np.zeros((0, enc.info.dim), np.float32)
        return ids, enc.embed_documents(texts)
    if enc.kind == "audio-text":  # CLAP: the sound of audio segments and video moments
        heard = [it for it in items if it.audio is not None and len(it.audio)]
        if not heard:
            return [], np.zeros((0, enc.info.dim), np.float32)
        return [it.id for it in heard], enc.embed_audio([it.audio for it in heard])  # type: ignore[misc]
    chosen = [it for it in items if it.image is not None]
    if not chosen:
        return [], np.zeros((0, enc.info.dim), np.float32)
    if any(it.keyframes for it in chosen) and pooling == "max":  # a row per keyframe
        from polyseek.encoders.pooling import embed_item_keyframes

        return embed_item_keyframes(enc, chosen)
    if any(it.keyframes for it in chosen):  # video moments: pooled keyframe embeddings
        from polyseek.encoders.pooling import embed_item_images

        return [it.id for it in chosen], embed_item_images(enc, chosen, pooling)
    return [it.id for it in chosen], enc.embed_images([it.image for it in chosen])  # type: ignore[misc]


__all__ = ["embed_items"]
