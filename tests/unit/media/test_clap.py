"""The CLAP audio-text encoder on a tiny random model: loading, embedding, indexing sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders import load_encoder
from polyseek.encoders.clap import resample
from polyseek.errors import ConfigError, EncoderError
from polyseek.search.base import Query, Ranking
from tests.helpers.tiny_clap import make_tiny_clap
from tests.helpers.tiny_models import TINY_DIM


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_clap(tmp_path_factory.mktemp("clap"))


def test_clap_embeds_text_and_sound_into_one_space(clap_dir: Path) -> None:
    enc = load_encoder(f"clap:{clap_dir}")
    assert enc.info.kind == "audio-text" and enc.info.dim == TINY_DIM
    q = enc.embed_queries(["a dog barking", "rain on a roof"])
    rng = np.random.default_rng(0)
    clips = [
        (0.1 * rng.standard_normal(16_000 * 5)).astype(np.float32),  # 5 s: three 2 s windows
        np.zeros(800, np.float32),  # 50 ms: padded
    ]
    a = enc.embed_audio(clips)
    assert q.shape == (2, TINY_DIM) and a.shape == (2, TINY_DIM)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(a[0], a[1])
    assert enc.embed_audio([]).shape == (0, TINY_DIM)
    with pytest.raises(EncoderError, match="image"):
        enc.embed_images([])


def test_clap_needs_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        load_encoder("clap")
    with pytest.raises(EncoderError, match="cannot load the CLAP model"):
        load_encoder(f"clap:{tmp_path}")


def test_resample_keeps_duration_and_tone() -> None:
    t = np.arange(16_000) / 16_000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    up = resample(tone, 16_000, 48_000)
    assert len(up) == 48_000
    spectrum = np.abs(np.fft.rfft(up))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1


def test_audio_items_are_indexed_with_clap(clap_dir: Path, tmp_path: Path) -> None:
    from polyseek.engine import Engine
    from polyseek.ingest import IngestOptions
    from tests.helpers.media import make_audio, write_srt

    root = tmp_path / "c"
    root.mkdir()
    make_audio(root / "a.wav", 6.0, [])  # silence; the subtitles give the segments
    write_srt(root / "a.srt", [(0.5, 2.0, "first line"), (4.0, 5.5, "second line")])
    engine = Engine.open(root, encoders=["minilm", f"clap:{clap_dir}"], create=True)
    report = engine.index(options=IngestOptions(asr="none"))
    assert report.failed == [] and report.items == 1  # both cues within one 30 s segment
    (clap_info,) = [i for i in engine.encoder_infos if i.kind == "audio-text"]
    query = Query(text="first", ranking=Ranking(encoders=(clap_info.spec,)))
    res = engine.search_batch([query])[0]
    assert [h.source for h in res.hits] == ["a.wav"]
    assert res.hits[0].signals and clap_info.spec in res.hits[0].signals
