"""Max-sim keyframe pooling: one vector row per keyframe, one result per moment (its best).

The store tests write repeated ids through the real commit protocol and search them on
both paths (exact matrix, LanceDB ANN index); the end-to-end test indexes a generated
video with a tiny random CLIP and queries with one of its keyframes.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from polyseek.encoders.base import EncoderInfo, l2_normalize
from polyseek.store.base import Manifest, SourceBatch, SourceRecord, StoredItem
from polyseek.store.lancedb import LanceStore
from polyseek.store.multivector import dedupe_best, top_unique
from polyseek.types import Locator, item_id

DIM = 16
ENC = EncoderInfo(spec="test:kf", kind="image-text", revision="r1", dim=DIM)


def best_per_item(scores: np.ndarray, ids: list[str], k: int) -> list[tuple[str, float]]:
    """Brute force: every id's best score, best first (ties by id)."""
    best: dict[str, float] = {}
    for i, s in zip(ids, scores, strict=True):
        best[i] = max(best.get(i, -np.inf), float(s))
    return sorted(best.items(), key=lambda x: (-x[1], x[0]))[:k]


def test_top_unique_matches_brute_force_with_repeated_ids() -> None:
    rng = np.random.default_rng(0)
    ids = np.array([f"m{i}" for i in rng.integers(0, 30, size=200)], dtype=object)
    for k in (1, 5, 29, 30, 50):
        scores = rng.normal(size=200).astype(np.float32)
        got = top_unique(scores, ids, k)
        want = best_per_item(scores, list(ids), k)
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want])
    # One id owning all the top rows must not crowd the others out.
    scores = np.zeros(200, np.float32)
    scores[ids == ids[0]] = 1.0
    got = top_unique(scores, ids, 10)
    assert len(got) == len({i for i, _ in got}) == 10 and got[0] == (ids[0], 1.0)
    assert dedupe_best([("a", 0.9), ("b", 0.8), ("a", 0.7), ("c", 0.1)], 2) == [
        ("a", 0.9),
        ("b", 0.8),
    ]


def moment_batch(
    source: str, gen: str, rows_per_item: list[int], rng: np.random.Generator
) -> SourceBatch:
    """Video moments of ``source``, item i with ``rows_per_item[i]`` keyframe vectors."""
    batch = SourceBatch()
    batch.records.append(
        SourceRecord(source, "h-" + gen, 10, 1, gen, "ok", n_items=len(rows_per_item))
    )
    ids: list[str] = []
    for i, n in enumerate(rows_per_item):
        loc = Locator(start_s=float(i), end_s=float(i + 1))
        it = StoredItem(item_id(source, loc), source, gen, "video", loc, f"moment {i}", {})
        batch.items.append(it)
        ids.extend([it.id] * n)
    batch.vectors[ENC.key] = (ids, l2_normalize(rng.normal(size=(len(ids), DIM))))
    return batch


def make_store(tmp_path: Path) -> LanceStore:
    return LanceStore.create(tmp_path / "idx", Manifest((ENC,), collection_root=str(tmp_path)))


def test_store_keeps_each_moment_once_at_its_best_keyframe(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = make_store(tmp_path)
    batch = moment_batch("v.mp4", "g1", [3, 1, 5, 2] * 10, rng)
    store.commit(batch)
    ids, vectors = batch.vectors[ENC.key]
    assert store.table_rows()[ENC.key] == len(ids) == 110
    queries = l2_normalize(rng.normal(size=(5, DIM)))
    for q, got in zip(queries, store.search_vectors(ENC.key, queries, k=12), strict=True):
        want = best_per_item(vectors @ q, ids, 12)
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    # A query equal to the 3rd keyframe of item 0 scores that moment at 1.0.
    got = store.search_vectors(ENC.key, vectors[2:3], k=40)[0]
    assert got[0] == (ids[2], pytest.approx(1.0, abs=1e-5))
    assert len(got) == len({i for i, _ in got}) == 40  # all moments, each once


def test_ann_path_dedupes_and_overfetches(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    store = make_store(tmp_path)
    batch = moment_batch("v.mp4", "g1", [4] * 300, rng)
    ids, vectors = batch.vectors[ENC.key]
    # Moment 0's 40 rows all sit next to the query: a plain top-(k+10) would hold only it.
    query = l2_normalize(rng.normal(size=(1, DIM)))[0]
    crowd = l2_normalize(query + 0.01 * rng.normal(size=(40, DIM)))
    batch.vectors[ENC.key] = (
        [ids[0]] * 40 + ids,
        np.concatenate([crowd, vectors]).astype(np.float32),
    )
    store.commit(batch)
    store.build_ann_index(ENC.key)
    ann = store.search_vectors(ENC.key, query[None, :], k=10, exact=False)[0]
    exact = store.search_vectors(ENC.key, query[None, :], k=10, exact=True)[0]
    assert len(ann) == len({i for i, _ in ann}) == 10
    assert ann[0][0] == ids[0]
    assert len({i for i, _ in ann} & {i for i, _ in exact}) >= 9  # approximate, but close


def test_recover_leaves_no_orphan_keyframe_rows(tmp_path: Path) -> None:
    """A crash after writing repeated-id rows but before the commit point."""
    rng = np.random.default_rng(3)
    store = make_store(tmp_path)
    store.commit(moment_batch("v.mp4", "g1", [3, 3], rng))
    crashed = moment_batch("v.mp4", "g2", [3, 2, 4], rng)
    store.stage(crashed)  # items and keyframe rows written, the commit point never reached
    ids, vectors = crashed.vectors[ENC.key]
    found = store.search_vectors(ENC.key, vectors[:1], k=100)[0]
    assert len(found) == 2  # g1's two moments only, each once
    assert store.recover() == 3 + 9  # 3 item rows, 9 keyframe rows of g2
    assert store.table_rows()["items"] == 2
    assert store.table_rows()[ENC.key] == 6
    assert store.recover() == 0
    # Re-committing the same moments replaces every keyframe row of the old generation.
    store.commit(moment_batch("v.mp4", "g3", [2, 2, 2], rng))
    assert store.table_rows()[ENC.key] == 6
    assert len(store.search_vectors(ENC.key, vectors[:1], k=100)[0]) == 3


# --------------------------------------------------------------------- end to end
def fading_video(path: Path, fps: int = 10) -> None:
    """4 s fading red -> blue (one shot: each frame differs little), then 2 s of green."""
    import av

    frames = []
    for i in range(4 * fps):
        a = i / (4 * fps - 1)
        frames.append((round(255 * (1 - a)), 0, round(255 * a)))
    frames += [(0, 200, 0)] * (2 * fps)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        for n, colour in enumerate(frames):
            img = np.empty((64, 96, 3), np.uint8)
            img[:] = colour
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)


def test_max_sim_scores_a_moment_by_its_best_keyframe(tmp_path: Path) -> None:
    from polyseek.engine import Engine
    from polyseek.ingest import IngestOptions, load_file
    from tests.helpers.tiny_models import make_tiny_clip

    root = tmp_path / "videos"
    root.mkdir()
    fading_video(root / "fade.mp4")
    clip = f"clip:{make_tiny_clip(tmp_path / 'clip')}"
    base = IngestOptions(asr="none", keyframes=3)
    moments = load_file(root / "fade.mp4", "fade.mp4", base)
    assert len(moments) == 2 and len(moments[0].keyframes) == 3
    query = moments[0].keyframes[2]  # the blue end of the fade

    scores: dict[str, float] = {}
    for how in ("max", "mean"):
        engine = Engine.open(root, store=tmp_path / how, encoders=[clip], create=True)
        options = IngestOptions(asr="none", keyframes=3, keyframe_pooling=how)
        report = engine.index(options=options)
        assert report.ok and report.items == 2
        rows = engine.store.table_rows()[engine.store.manifest.encoders[0].key]
        assert rows == (sum(len(m.keyframes) for m in moments) if how == "max" else 2)
        hits = engine.search(image=query, top=2).hits
        assert len(hits) == 2 and len({h.item_id for h in hits}) == 2  # no duplicates
        assert hits[0].item_id == moments[0].id
        scores[how] = hits[0].score
    # Images may go through ONNX Runtime int8, whose vectors move a little with the batch.
    assert scores["max"] == pytest.approx(1.0, abs=1e-3)
    assert scores["mean"] < scores["max"] - 1e-3
