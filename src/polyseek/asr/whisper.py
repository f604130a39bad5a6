"""Speech to text with a Whisper model through transformers: the quality path.

``whisper:/path/to/model`` loads a saved ``WhisperForConditionalGeneration`` and its
processor (``save_pretrained`` of e.g. openai/whisper-small) or a hub name found in the
local cache. Each VAD span (at most 30 s, Whisper's window) is decoded in one call; the
segment takes the span's times (no word timings).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import numpy as np

from polyseek import hub
from polyseek.asr.base import SAMPLE_RATE, TRANSCRIBERS, Segment, Transcriber
from polyseek.deps import require
from polyseek.errors import ConfigError, EncoderError

logger = logging.getLogger(__name__)

_HINT = "pip install transformers torch"


@TRANSCRIBERS.register("whisper")
class WhisperTranscriber(Transcriber):
    name = "whisper"

    def __init__(self, model_ref: str | None = None, *, max_new_tokens: int = 200) -> None:
        if not model_ref:
            raise ConfigError(
                "the whisper speech-to-text backend needs a model",
                hint="e.g. asr='whisper:/models/whisper-small' (a folder saved with "
                "save_pretrained) or whisper:openai/whisper-small when it is in the local cache",
            )
        transformers = require("transformers", hint=_HINT, feature="Whisper speech recognition")
        require("torch", hint=_HINT, feature="Whisper speech recognition")
        resolved = hub.resolve_model(model_ref, backend="whisper")
        with hub.offline_mode() if resolved.local else contextlib.nullcontext():
            try:
                model = transformers.WhisperForConditionalGeneration.from_pretrained(
                    resolved.location
                )
                processor = transformers.AutoProcessor.from_pretrained(resolved.location)
            except Exception as exc:
                raise EncoderError(
                    f"cannot load the Whisper model {model_ref!r}: {type(exc).__name__}: {exc}",
                    hint="give a folder holding a Whisper model and its processor "
                    "(model.save_pretrained(dir); processor.save_pretrained(dir))",
                ) from exc
        if getattr(processor, "feature_extractor", None) is None or not hasattr(
            processor, "batch_decode"
        ):
            raise EncoderError(f"the processor of {model_ref!r} is not a Whisper processor")
        model.eval()
        self._model: Any = model
        self._processor: Any = processor
        self._max_new_tokens = min(
            max_new_tokens, int(getattr(model.config, "max_target_positions", 448)) - 4
        )
        self._lock = threading.Lock()  # one forward pass at a time: torch uses every core
        self.spec = f"whisper:{model_ref}"

    def _generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self._max_new_tokens}
        gen = getattr(self._model, "generation_config", None)
        # Multilingual checkpoints carry language/task tables: ask for English transcription.
        if gen is not None and getattr(gen, "lang_to_id", None) and "<|en|>" in gen.lang_to_id:
            kwargs.update(language="en", task="transcribe")
        return kwargs

    def transcribe_chunk(self, audio: np.ndarray, offset_s: float) -> Segment | None:
        import torch

        if len(audio) < SAMPLE_RATE // 10:
            return None
        features = self._processor.feature_extractor(
            audio.astype(np.float32), sampling_rate=SAMPLE_RATE, return_tensors="pt"
        ).input_features
        with self._lock, torch.inference_mode():
            ids = self._model.generate(features, **self._generate_kwargs())
        text = self._processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
        if not text:
            return None
        end = offset_s + len(audio) / SAMPLE_RATE
        return Segment(offset_s, round(end, 3), " ".join(text.split()))
