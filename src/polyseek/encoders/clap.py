"""CLAP through transformers: sound and text in one space (``clap:/path/or/hub-name``).

Embeds the soundtrack of audio segments and video moments (``Item.audio``, 16 kHz mono)
and text queries, so "a dog barking" finds the moment a dog barks even when nobody
says so. Audio is resampled to the model's rate (48 kHz for LAION CLAP) and cut into
windows of the feature extractor's ``max_length_s``; a clip's vector is the mean of
its windows'.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from polyseek import hub
from polyseek.asr.base import SAMPLE_RATE
from polyseek.deps import require
from polyseek.encoders._util import as_float32_rows, as_texts, empty
from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize
from polyseek.encoders.transformers_clip import _dtype_kwarg, _features
from polyseek.errors import ConfigError, EncoderError

logger = logging.getLogger(__name__)

_HINT = "pip install transformers torch"
_MIN_AUDIO_S = 0.1


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Linear-interpolation resampling (upsampling 16 kHz speech adds no new band)."""
    if rate_in == rate_out or len(audio) == 0:
        return audio.astype(np.float32)
    n = max(1, int(round(len(audio) * rate_out / rate_in)))
    x = np.linspace(0, len(audio) - 1, n)
    return np.interp(x, np.arange(len(audio)), audio).astype(np.float32)


class ClapEncoder(Encoder):
    """``clap:laion/clap-htsat-unfused`` or ``clap:/dir`` (model + processor saved together)."""

    backend = "clap"
    text_batch_size = 32
    window_batch_size = 8

    def __init__(self, model_ref: str | None = None) -> None:
        if not model_ref:
            raise ConfigError(
                "the 'clap' encoder needs a model",
                hint="e.g. clap:laion/clap-htsat-unfused (in the local cache) or clap:/path/to/dir",
            )
        transformers = require("transformers", hint=_HINT, feature="the CLAP encoder")
        require("torch", hint=_HINT, feature="the CLAP encoder")
        import torch

        resolved = hub.resolve_model(model_ref, backend=self.backend)
        with hub.offline_mode() if resolved.local else contextlib.nullcontext():
            try:
                model = transformers.ClapModel.from_pretrained(
                    resolved.location, **{_dtype_kwarg(transformers): torch.float32}
                )
                processor = transformers.AutoProcessor.from_pretrained(resolved.location)
            except Exception as exc:
                raise EncoderError(
                    f"cannot load the CLAP model {model_ref!r}: {type(exc).__name__}: {exc}",
                    hint="give a folder holding a ClapModel and its ClapProcessor "
                    "(model.save_pretrained(dir); processor.save_pretrained(dir))",
                ) from exc
        self._tokenizer: Any = getattr(processor, "tokenizer", None)
        self._features: Any = getattr(processor, "feature_extractor", None)
        if self._tokenizer is None or self._features is None:
            raise EncoderError(f"the processor of {model_ref!r} is not a CLAP processor")
        model.eval()
        self._model: Any = model
        self._rate = int(getattr(self._features, "sampling_rate", 48_000))
        self._window = int(float(getattr(self._features, "max_length_s", 10)) * self._rate)
        max_len = getattr(model.config.text_config, "max_position_embeddings", 512)
        self._max_tokens = max(8, min(int(max_len) - 2, 512))
        revision = resolved.revision or hub.hub_revision(model_ref) or "unknown"
        dim = self._probe_dim(model_ref)
        self.info = EncoderInfo(
            spec=f"{self.backend}:{model_ref}", kind="audio-text", revision=revision, dim=dim
        )

    def _probe_dim(self, model_ref: str) -> int:
        try:
            text_dim = self._text_features(["a sound"]).shape[1]
            audio_dim = self._audio_features([np.zeros(self._rate, np.float32)]).shape[1]
        except Exception as exc:
            raise EncoderError(
                f"{model_ref!r} loaded but fails on a test input: {type(exc).__name__}: {exc}"
            ) from exc
        if text_dim != audio_dim:
            raise EncoderError(
                f"{model_ref!r} embeds texts in {text_dim} and sound in {audio_dim} dimensions"
            )
        return int(text_dim)

    def _text_features(self, texts: list[str]) -> np.ndarray:
        import torch

        inputs = self._tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self._max_tokens
        )
        with torch.inference_mode():
            out = self._model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")
            )
        return as_float32_rows(_features(out))

    def _audio_features(self, windows: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self._features(windows, sampling_rate=self._rate, return_tensors="pt")
        with torch.inference_mode():
            out = self._model.get_audio_features(**inputs)
        return as_float32_rows(_features(out))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        batch = as_texts(texts)
        if not batch:
            return empty(self.info.dim)
        parts = [
            self._text_features(batch[i : i + self.text_batch_size])
            for i in range(0, len(batch), self.text_batch_size)
        ]
        return l2_normalize(np.concatenate(parts))

    def embed_audio(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """One vector per clip (16 kHz mono): the mean of its windows' embeddings."""
        if not clips:
            return empty(self.info.dim)
        windows: list[np.ndarray] = []
        owners: list[int] = []
        for i, clip in enumerate(clips):
            audio = resample(np.asarray(clip, np.float32).reshape(-1), SAMPLE_RATE, self._rate)
            if len(audio) < _MIN_AUDIO_S * self._rate:
                audio = np.pad(audio, (0, int(_MIN_AUDIO_S * self._rate) - len(audio)))
            for start in range(0, len(audio), self._window):
                piece = audio[start : start + self._window]
                if start and len(piece) < self._window // 4:
                    break  # a short tail adds little: the previous window covers the clip
                windows.append(piece)
                owners.append(i)
        vectors = np.concatenate(
            [
                self._audio_features(windows[i : i + self.window_batch_size])
                for i in range(0, len(windows), self.window_batch_size)
            ]
        )
        vectors = l2_normalize(vectors)
        owner = np.asarray(owners)
        out = np.stack([vectors[owner == i].mean(axis=0) for i in range(len(clips))])
        return l2_normalize(out)
