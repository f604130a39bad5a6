"""Backfilling what the index does not keep: a moment's keyframes and the items' sound.

An encoder added to a live index must embed video moments and audio segments as the
indexer would have: all keyframes pooled (not the one stored preview) for an image-text
encoder, the sound for an audio-text one (CLAP), both read again from the unchanged
source files. Tiny random CLIP and CLAP models, loaded through the real ``clip:DIR`` and
``clap:DIR`` paths; real video and speech (espeak-ng) files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from polyseek.engine import Engine
from polyseek.ingest import IngestOptions
from polyseek.store.lancedb import LanceStore
from tests.helpers.media import Scene, espeak_available, make_audio, make_video, write_srt
from tests.helpers.tiny_clap import make_tiny_clap
from tests.helpers.tiny_models import make_tiny_clip

OPTIONS = IngestOptions(ocr=False, asr="none")


def rows_by_item(store_path: Path, spec: str) -> dict[str, np.ndarray]:
    store = LanceStore.open(store_path)
    key = next(e.key for e in store.manifest.encoders if e.spec == spec)
    view = store.vectors(key)
    return {i: view.matrix[view.rows_of(i)] for i in dict.fromkeys(view.ids.tolist())}


def video_collection(root: Path) -> Path:
    """Two shots whose keyframes differ (a shape moves): pooling them is not the preview."""
    path = root / "videos" / "demo.mp4"
    path.parent.mkdir(parents=True)
    make_video(path, [Scene(3.0, (200, 30, 30), "square"), Scene(3.0, (30, 30, 200), "disc")])
    write_srt(path.with_suffix(".srt"), [(0.2, 2.8, "the pump room"), (3.2, 5.8, "a filter")])
    (root / "notes.txt").write_text("pump maintenance notes\n")
    return path


@pytest.mark.slow
def test_backfilled_moments_pool_their_keyframes_like_the_indexer(tmp_path: Path) -> None:
    root = tmp_path / "c"
    video_collection(root)
    clip_a = f"clip:{make_tiny_clip(tmp_path / 'a', seed=0)}"
    clip_b = f"clip:{make_tiny_clip(tmp_path / 'b', seed=1)}"
    live = Engine.open(root, store=tmp_path / "live", encoders=["minilm", clip_a], create=True)
    live.index(options=OPTIONS)
    moments = [
        s
        for s in LanceStore.open(tmp_path / "live")
        .get_items(list(rows_by_item(tmp_path / "live", clip_a)))
        .values()
        if s.modality == "video"
    ]
    assert moments and all(len(m.metadata["keyframe_times"]) > 1 for m in moments)

    live.add_encoder(clip_b)  # backfills in the foreground
    fresh = tmp_path / "fresh"
    Engine.open(root, store=fresh, encoders=["minilm", clip_b], create=True).index(options=OPTIONS)
    got, want = rows_by_item(tmp_path / "live", clip_b), rows_by_item(fresh, clip_b)
    assert set(got) == set(want)
    for m in moments:
        np.testing.assert_allclose(got[m.id], want[m.id], atol=2e-3)


@pytest.mark.slow
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_an_audio_text_encoder_is_backfilled_from_the_sound_of_the_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "c"
    (root / "audio").mkdir(parents=True)
    talk = root / "audio" / "talk.wav"
    make_audio(talk, 6.0, [(0.5, "replace the filter of the pump"), (3.5, "then close the valve")])
    (root / "notes.txt").write_text("pump maintenance notes\n")
    options = IngestOptions(ocr=False)  # pocketsphinx finds the speech and its segments
    live = Engine.open(root, store=tmp_path / "live", encoders=["minilm"], create=True)
    live.index(options=options)
    clap = f"clap:{make_tiny_clap(tmp_path / 'clap')}"

    live.add_encoder(clap)
    fresh = tmp_path / "fresh"
    Engine.open(root, store=fresh, encoders=["minilm", clap], create=True).index(options=options)
    got, want = rows_by_item(tmp_path / "live", clap), rows_by_item(fresh, clap)
    assert got and set(got) == set(want)  # the audio segments, nothing for the text file
    for item_id, rows in want.items():
        # The locator keeps times to 1 ms, the indexer cut the sound at the exact times: a
        # span may differ by a few samples at each end.
        cosine = float(np.sum(got[item_id] * rows)) / float(
            np.linalg.norm(got[item_id]) * np.linalg.norm(rows)
        )
        assert cosine > 0.999, (item_id, cosine)
    state = next(e for e in live.status().encoders if e["spec"] == clap)
    assert state["state"] == "ready"

    # A file changed since it was indexed is not heard again: its items get no row (the
    # next index run embeds the new file with every encoder), and the log says why.
    live.remove_encoder(clap)
    os.utime(talk, ns=(talk.stat().st_atime_ns, talk.stat().st_mtime_ns + 10**9))
    with caplog.at_level(logging.WARNING, logger="polyseek.lifecycle.backfill"):
        live.add_encoder(clap)
    assert "changed since it was indexed" in caplog.text
    assert rows_by_item(tmp_path / "live", clap) == {}
    assert next(e for e in live.status().encoders if e["spec"] == clap)["state"] == "ready"
