"""Offline speech to text with PocketSphinx and the US English model bundled in its wheel.

Fast (about 0.3x real time on a laptop core) and needs no download, but its accuracy is
low: expect many wrong words on anything but clear, common-vocabulary speech. It makes
speech findable by its more distinctive words; for real transcripts use the Whisper
backend (``asr="whisper:/path/to/model"``).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import numpy as np

from polyseek.asr.base import SAMPLE_RATE, TRANSCRIBERS, Segment, Transcriber, Word
from polyseek.deps import require
from polyseek.errors import ConfigError

logger = logging.getLogger(__name__)

_FRAME_S = 0.01  # PocketSphinx reports word times in 10 ms frames
_ALTERNATE = re.compile(r"\(\d+\)$")  # "can(2)": second pronunciation of "can"
_HINT = "pip install pocketsphinx (its wheel bundles the US English model)"


@TRANSCRIBERS.register("pocketsphinx")
class PocketSphinxTranscriber(Transcriber):
    """``pocketsphinx`` or ``pocketsphinx:/path/to/model-dir`` (acoustic model, dict, LM).

    One decoder per thread: a decoder is not safe to share, and loaders run in threads.
    """

    name = "pocketsphinx"

    def __init__(self, model_ref: str | None = None) -> None:
        self._ps = require("pocketsphinx", hint=_HINT, feature="offline speech recognition")
        self._model_ref = model_ref
        self.spec = f"pocketsphinx:{model_ref}" if model_ref else "pocketsphinx"
        self._local = threading.local()
        self._decoder()  # fail now, not in the middle of an index run

    def _config(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"samprate": SAMPLE_RATE, "loglevel": "FATAL"}
        if self._model_ref:
            from pathlib import Path

            root = Path(self._model_ref).expanduser()
            if not root.is_dir():
                raise ConfigError(f"pocketsphinx model folder {root} does not exist")
            dicts = sorted(root.glob("*.dict"))
            lms = sorted(root.glob("*.lm.bin")) or sorted(root.glob("*.lm"))
            hmm = next((p for p in [root / "acoustic-model", root] if (p / "mdef").exists()), None)
            if hmm is None or not dicts or not lms:
                raise ConfigError(
                    f"{root} is not a pocketsphinx model folder",
                    hint="it needs an acoustic model (a folder with mdef), a .dict and a .lm.bin",
                )
            kwargs.update(hmm=str(hmm), dict=str(dicts[0]), lm=str(lms[0]))
        return kwargs

    def _decoder(self) -> Any:
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = self._ps.Decoder(**self._config())
            self._local.decoder = decoder
        return decoder

    def transcribe_chunk(self, audio: np.ndarray, offset_s: float) -> Segment | None:
        if len(audio) < SAMPLE_RATE // 10:
            return None
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        decoder = self._decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        words: list[Word] = []
        for seg in decoder.seg():
            token = _ALTERNATE.sub("", seg.word)
            if token.startswith(("<", "[")):  # <s>, </s>, <sil>, [NOISE]
                continue
            words.append(
                Word(
                    token,
                    round(offset_s + seg.start_frame * _FRAME_S, 3),
                    round(offset_s + (seg.end_frame + 1) * _FRAME_S, 3),
                )
            )
        if not words:
            return None
        end = offset_s + len(audio) / SAMPLE_RATE
        return Segment(offset_s, round(end, 3), " ".join(w.text for w in words), tuple(words))
