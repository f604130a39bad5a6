"""Cross-encoder reranking with sentence-transformers ``CrossEncoder``.

The model is a hub name or a local directory; with ``HF_HUB_OFFLINE=1`` and nothing
cached, loading fails at once with a message saying so. Candidates without text (an
image with no OCR text) cannot be judged by a text model and get the lowest score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyseek.errors import EncoderError
from polyseek.rerank.base import Candidate, Reranker

logger = logging.getLogger(__name__)

MAX_CHARS = 2000  # the model truncates to its max length anyway; this bounds tokenising


class CrossEncoderReranker(Reranker):
    def __init__(self, model: str, *, batch_size: int = 32, max_length: int | None = None) -> None:
        from sentence_transformers import CrossEncoder

        self.name = f"cross-encoder:{model}"
        self.batch_size = batch_size
        local = Path(model).expanduser()
        source = str(local) if local.is_dir() else model
        try:
            self._model: Any = CrossEncoder(source, device="cpu")
        except (OSError, ValueError) as exc:
            raise EncoderError(
                f"cannot load the cross-encoder {model!r}: {exc}",
                hint="give a local folder saved with CrossEncoder.save(), or a hub name that "
                "is in the local cache (the model hub is not reachable offline)",
            ) from exc
        vocab = getattr(self._model.tokenizer, "vocab_size", 0)
        if not vocab or vocab < 10:
            raise EncoderError(f"the cross-encoder {model!r} loaded with a broken tokenizer")
        # Never feed more tokens than the model has positions for (a tokenizer saved
        # without model_max_length claims 512 or more).
        limits = [self._model.max_seq_length or 512, max_length or 512]
        positions = getattr(self._model.config, "max_position_embeddings", None)
        if positions:
            limits.append(int(positions))
        self._model.max_seq_length = min(limits)

    def score(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        with_text = [i for i, c in enumerate(candidates) if c.text.strip()]
        if not with_text:
            return [0.0] * len(candidates)
        out: list[float | None] = [None] * len(candidates)
        pairs = [(query, candidates[i].text[:MAX_CHARS]) for i in with_text]
        scores = self._model.predict(
            pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        for i, s in zip(with_text, scores.reshape(len(with_text), -1)[:, -1], strict=True):
            out[i] = float(s)
        floor = min(v for v in out if v is not None) - 1.0  # text-less candidates go last
        return [floor if v is None else v for v in out]
