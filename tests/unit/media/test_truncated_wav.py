"""A WAV file cut short is refused, not indexed as a shorter recording (issue 15, item 9).

FFmpeg estimates a WAV file's duration from its size, so a file cut in half decoded
"completely"; the RIFF header still says how much audio there was.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from polyseek.errors import IngestError
from polyseek.ingest import IngestOptions, load_file

RATE = 16_000


def write_wav(path: Path, seconds: float = 4.0, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.repeat(pcm, channels).tobytes())
    return path.read_bytes()


@pytest.mark.parametrize("share", [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.999])
@pytest.mark.parametrize("channels", [1, 2])
def test_truncated_wav_is_refused_with_both_lengths(tmp_path: Path, share, channels) -> None:
    data = write_wav(tmp_path / "full.wav", channels=channels)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: max(48, int(len(data) * share))])
    with pytest.raises(IngestError, match=r"truncated WAV: the header announces 4\.000 s"):
        load_file(cut, options=IngestOptions(asr="none"))


def test_complete_wav_is_accepted(tmp_path: Path) -> None:
    write_wav(tmp_path / "full.wav")
    assert load_file(tmp_path / "full.wav", options=IngestOptions(asr="none")) == []
