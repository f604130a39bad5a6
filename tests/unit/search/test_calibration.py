"""Modality calibration: statistics from the collection, standardised mixed-modality lists."""

from __future__ import annotations

import numpy as np
import pytest

from polyseek.encoders.base import Encoder, EncoderInfo, l2_normalize
from polyseek.errors import StoreError
from polyseek.search.calibration import (
    ScoreStats,
    calibrated_search,
    calibration_path,
    compute_calibration,
    load_calibration,
    update_calibration,
)
from tests.helpers.ranking_store import DIM, ENC, add_items, make_store


class HashingEncoder(Encoder):
    """Bag of hashed words: a deterministic text encoder for probing (not the code under test)."""

    def __init__(self) -> None:
        self.info = EncoderInfo(spec=ENC.spec, kind="text", revision="r1", dim=DIM)

    def embed_queries(self, texts):
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, sum(map(ord, word)) % DIM] += 1.0
        return l2_normalize(out + 1e-3)


@pytest.fixture
def mixed_store(tmp_path):
    rng = np.random.default_rng(0)
    store = make_store(tmp_path / "idx")
    rows = []
    # Text items sit close to the queries' direction, images far from it (a modality gap).
    for n in range(20):
        vec = np.array([1.0, 0.2, 0.0, 0.0]) + rng.normal(0, 0.05, DIM)
        rows.append((f"t{n}.txt", "text", f"text chunk number {n} about pumps", vec))
    for n in range(20):
        vec = np.array([0.2, 0.0, 1.0, 0.3]) + rng.normal(0, 0.05, DIM)
        rows.append((f"i{n}.png", "image", f"ocr words {n}", vec))
    add_items(store, rows)
    return store


def test_statistics_per_modality_saved_and_loaded(mixed_store):
    stats = update_calibration(mixed_store, [HashingEncoder()])
    assert set(stats[ENC.key]) == {"text", "image"}
    for s in stats[ENC.key].values():
        assert s.std > 0 and s.n > 0
    assert load_calibration(mixed_store) == stats
    # Deterministic: the same collection gives the same statistics.
    assert compute_calibration(mixed_store, [HashingEncoder()]) == stats


def test_calibration_lets_the_outlying_image_in(mixed_store):
    query = l2_normalize(np.array([[1.0, 0.2, 0.4, 0.1]]))[0]
    raw = mixed_store.search_vectors(ENC.key, query[None, :], 5)[0]
    items = mixed_store.get_items([i for i, _ in raw])
    assert {items[i].modality for i, _ in raw} == {"text"}
    # Images score lower on the whole, but the best image is an outlier for images.
    stats = {"text": ScoreStats(0.95, 0.02, 100), "image": ScoreStats(0.3, 0.05, 100)}
    calibrated = calibrated_search(mixed_store, ENC.key, query, 5, stats)
    items = mixed_store.get_items([i for i, _ in calibrated])
    assert items[calibrated[0][0]].modality == "image"
    assert [s for _, s in calibrated] == sorted((s for _, s in calibrated), reverse=True)


def test_unreadable_statistics_name_the_file(mixed_store):
    calibration_path(mixed_store).write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="calibration.json: unreadable"):
        load_calibration(mixed_store)


def test_missing_statistics_are_empty(tmp_path):
    assert load_calibration(make_store(tmp_path / "idx")) == {}


def test_per_query_statistics_let_the_outlying_image_in(mixed_store):
    from polyseek.search.calibration import query_stats

    query = l2_normalize(np.array([[1.0, 0.2, 0.4, 0.1]]))[0]
    stats = query_stats(mixed_store, ENC.key, query)
    assert set(stats) == {"text", "image"} and stats["text"].mean > stats["image"].mean
    # Raw top-5 is all text (see above); standardised per modality, images get in.
    calibrated = calibrated_search(mixed_store, ENC.key, query, 5, stats)
    items = mixed_store.get_items([i for i, _ in calibrated])
    assert {items[i].modality for i, _ in calibrated} == {"text", "image"}


def test_hubness_is_the_mean_of_the_k_nearest_probes_of_other_sources(tmp_path):
    from polyseek.search.calibration import HUBNESS_K, hubness, probes_path

    enc = HashingEncoder()
    texts = [f"w{n} w{n + 1} w{(n * 7) % 23}" for n in range(30)]
    # Each item's vector IS its own probe's vector: without the same-source exclusion its
    # nearest probe would be itself at similarity 1.
    vectors = enc.embed_queries(texts)
    store = make_store(tmp_path / "idx")
    rows = [
        (f"d{n}.txt", "text", t, v) for n, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    ids = add_items(store, rows)
    update_calibration(store, [enc])
    assert probes_path(store).is_file()
    hub = hubness(store, ENC.key)
    assert hub is not None and set(hub.view.ids.tolist()) == set(ids)
    cache = store.vectors(ENC.key)
    for n, item in enumerate(ids):
        sims = vectors @ cache.matrix[hub.view.rows_of(item)[0]]
        others = np.sort(np.delete(sims, n))[::-1][:HUBNESS_K]
        assert hub.of(item) == pytest.approx(others.mean(), abs=1e-5)
    # Cached for this store version; recomputed once the collection changes.
    assert hubness(store, ENC.key) is hub
    add_items(store, [("new.txt", "text", "w1 w2 w3", vectors[1])], gen="g2")
    again = hubness(store, ENC.key)
    assert again is not hub and len(again.view.ids) == len(ids) + 1


def test_hubness_mode_demotes_a_generic_item_close_to_every_query(tmp_path):
    from polyseek.search import calibration as cal

    rng = np.random.default_rng(1)
    # Query-like probes spread over one region; the generic item sits at their centre
    # (close to every probe: a hub); specific items point anywhere.
    probes = l2_normalize(np.abs(rng.normal(0, 1, (32, DIM))).astype(np.float32))
    store = make_store(tmp_path / "idx")
    rows = [(f"t{n}.txt", "text", f"item {n}", rng.normal(0, 1, DIM)) for n in range(24)]
    rows.append(("generic.txt", "text", "generic", probes.mean(axis=0)))
    ids = add_items(store, rows)
    cal.save_probes(store, {ENC.key: probes}, [cal.Probe(f"p{n}", "", ()) for n in range(32)])
    hub = cal.hubness(store, ENC.key)
    assert hub is not None
    generic = ids[-1]
    assert hub.of(generic) == max(hub.of(i) for i in ids)
    # A query a little closer to the hub than to the least hubby item: raw search returns
    # the hub above it, the hubness-corrected ranking the specific item above the hub.
    specific = min(ids, key=hub.of)
    matrix = store.vectors(ENC.key).matrix
    query = l2_normalize(
        (
            0.55 * matrix[hub.view.rows_of(generic)[0]]
            + 0.45 * matrix[hub.view.rows_of(specific)[0]]
        )[None, :]
    )[0]
    raw = [i for i, _ in store.search_vectors(ENC.key, query[None, :], 25)[0]]
    assert raw.index(generic) < raw.index(specific)
    stats = cal.query_stats(store, ENC.key, query, hub)
    corrected = [i for i, _ in calibrated_search(store, ENC.key, query, 25, stats, hub=hub)]
    assert corrected.index(specific) < corrected.index(generic)


def test_an_image_query_is_not_corrected_by_text_probes(tmp_path):
    """The probes are text queries: for an image query the correction reordered pictures
    among themselves, until the identical picture was no longer first."""
    from polyseek.search import calibration as cal

    rng = np.random.default_rng(2)
    probes = l2_normalize(np.array([[0.2, 0.95, 0.0, 0.2]]) + rng.normal(0, 0.05, (16, DIM)))
    store = make_store(tmp_path / "idx")
    rows = [
        (f"t{n}.txt", "text", f"text {n}", np.array([1.0, 0.2, 0.0, 0.0]) + rng.normal(0, 0.05, 4))
        for n in range(12)
    ]
    rows += [
        ("same.png", "image", "", [0.0, 0.6, 1.0, 0.0]),  # close to the text probes: a hub
        ("near.png", "image", "", [0.0, 0.35, 1.0, 0.25]),  # cosine 0.95 to it, no hub
    ]
    ids = add_items(store, rows)
    same, near = ids[-2:]
    cal.save_probes(
        store, {ENC.key: probes.astype(np.float32)}, [cal.Probe(f"p{n}", "", ()) for n in range(16)]
    )
    query = store.vectors(ENC.key).matrix[store.vectors(ENC.key).rows_of(same)[0]]

    def first(text_share: float) -> str:  # the first picture (texts are not the point)
        qc = cal.calibration_stats(store, ENC.key, query, "hubness", text_share=text_share)
        assert qc is not None
        found = calibrated_search(store, ENC.key, query, 14, qc.per_modality, hub=qc.hub)
        return next(i for i, _ in found if i in (same, near))

    assert first(1.0) == near  # what a text query with this vector gets: the hub demoted
    assert first(0.0) == same  # an image query: per-query statistics alone
    half = cal.calibration_stats(store, ENC.key, query, "hubness", text_share=0.4)
    assert half is not None and half.hub is not None
    assert half.hub.weight == pytest.approx(0.4 * cal.HUBNESS_WEIGHT)


def test_unreadable_probes_name_the_file(mixed_store):
    from polyseek.search.calibration import hubness, probes_path

    update_calibration(mixed_store, [HashingEncoder()])
    probes_path(mixed_store).write_bytes(b"not an npz")
    with pytest.raises(StoreError, match="calibration-probes.npz: unreadable"):
        hubness(mixed_store, ENC.key)


@pytest.mark.parametrize("mode", ["query", "hubness"])
def test_a_few_matching_images_are_not_drowned_by_many_texts(tmp_path, mode):
    """Hundreds of off-topic text chunks and four images, three of which match the query.
    On the images' own statistics (four items, mostly matching) the best image scores
    z <= sqrt(3), below the best of the texts; shrunk toward the index-time statistics of
    each modality, the matching images stay on top."""
    from polyseek.search import calibration as cal

    rng = np.random.default_rng(3)
    topic = np.array([1.0, 0.0, 0.0, 0.0])
    off_topic = lambda: np.concatenate([[rng.normal(0, 0.2)], rng.normal(0, 1, DIM - 1)])  # noqa: E731
    rows = [(f"t{n}.txt", "text", f"text {n}", off_topic()) for n in range(300)]
    rows += [(f"i{n}.png", "image", f"pump {n}", topic + rng.normal(0, 0.1, DIM)) for n in range(3)]
    rows.append(("i3.png", "image", "sign", off_topic()))
    store = make_store(tmp_path / "idx")
    ids = add_items(store, rows)
    images = set(ids[300:303])
    update_calibration(store, [HashingEncoder()])  # probes for the hubness mode
    query = l2_normalize(topic[None, :])[0]
    raw = store.search_vectors(ENC.key, query[None, :], 3)[0]
    assert {i for i, _ in raw} == images
    hub = cal.hubness(store, ENC.key) if mode == "hubness" else None
    alone = cal.query_stats(store, ENC.key, query, hub)
    assert alone["image"].n == 4
    drowned = calibrated_search(store, ENC.key, query, 3, alone, hub=hub)
    assert not {i for i, _ in drowned} & images
    # Index-time statistics: across query-like probes both modalities score alike.
    prior = {"text": ScoreStats(0.0, 0.12, 10_000), "image": ScoreStats(0.0, 0.12, 10_000)}
    stats = cal.query_stats(store, ENC.key, query, hub, prior=prior)
    found = calibrated_search(store, ENC.key, query, 3, stats, hub=hub)
    assert {i for i, _ in found} == images


def test_a_lone_item_of_a_modality_still_gets_comparable_statistics(tmp_path):
    from polyseek.search import calibration as cal

    rng = np.random.default_rng(5)
    store = make_store(tmp_path / "idx")
    rows = [(f"t{n}.txt", "text", f"text {n}", rng.normal(0, 1, DIM)) for n in range(30)]
    rows.append(("only.png", "image", "only image", rng.normal(0, 1, DIM)))
    add_items(store, rows)
    stats = update_calibration(store, [HashingEncoder()])
    assert stats[ENC.key]["image"].n == 30  # the 30 other items' probes against it
    query = l2_normalize(rng.normal(0, 1, (1, DIM)))[0]
    per_query = cal.query_stats(store, ENC.key, query, prior=stats[ENC.key])
    assert per_query["image"].n == 1 and per_query["image"].std > 0
    assert cal.query_stats(store, ENC.key, query)["image"].std > 0  # no prior either


def test_a_store_of_one_item_gets_no_statistics_and_no_warning(tmp_path):
    store = make_store(tmp_path / "idx")
    add_items(store, [("only.png", "image", "only image", np.ones(DIM))])
    # Its one probe is itself: no pair left to measure (numpy would warn on an empty std).
    assert update_calibration(store, [HashingEncoder()]) == {}


def test_probes_follow_the_pages_not_their_layout_regions(tmp_path):
    """A page's regions repeat its text: the probe count is that of the other items (the
    pages), though the probes are drawn from every item."""
    from polyseek.search import calibration as cal
    from polyseek.store.base import SourceBatch, SourceRecord, StoredItem
    from polyseek.types import Locator, item_id

    store = make_store(tmp_path / "idx")
    batch = SourceBatch()
    for n in range(3):
        source = f"manual{n}.pdf"
        locators = [Locator(page=1)] + [
            Locator(page=1, bbox=(0, 10 * k, 100, 10 * k + 8), region="text", region_index=k)
            for k in range(1, 5)
        ]
        batch.records.append(SourceRecord(source, "h", 1, 1, "g1", "ok", n_items=5))
        for loc in locators:
            text = f"paragraph {loc.region_index or 0} of manual {n} about pumps"
            batch.items.append(
                StoredItem(item_id(source, loc), source, "g1", "page", loc, text, {})
            )
    rng = np.random.default_rng(0)
    vectors = l2_normalize(rng.normal(0, 1, (len(batch.items), DIM)).astype(np.float32))
    batch.vectors[ENC.key] = ([it.id for it in batch.items], vectors)
    store.commit(batch)
    probes = cal._probe_texts(store, np.random.default_rng(cal.SEED))
    assert len(probes) == 3
    assert {p.item_id for p in probes} <= {it.id for it in batch.items}
    add_items(store, [(f"t{n}.txt", "text", f"text {n}", rng.normal(0, 1, DIM)) for n in range(4)])
    assert len(cal._probe_texts(store, np.random.default_rng(cal.SEED))) == 7
