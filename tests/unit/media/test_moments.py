"""Merging adjacent time-range hits of one file into one span."""

from __future__ import annotations

from polyseek.search.moments import merge_adjacent
from polyseek.types import Hit, Locator


def hit(rank: int, source: str, start: float | None, end: float | None, raw: float) -> Hit:
    loc = Locator(start_s=start, end_s=end) if start is not None else Locator(page=1)
    return Hit(
        rank=rank,
        score=raw,
        item_id=f"{source}@{start}",
        modality="video" if start is not None else "page",
        source=source,
        locator=loc,
        snippet=f"text {start}",
        signals={"minilm": raw},
    )


def test_adjacent_strong_hits_merge_and_ranks_renumber() -> None:
    hits = [
        hit(1, "a.mp4", 30, 40, 0.80),
        hit(2, "doc.pdf", None, None, 0.79),
        hit(3, "a.mp4", 40, 55, 0.75),  # touches the first, strong enough
        hit(4, "a.mp4", 20, 30, 0.70),  # touches the span on the other side
        hit(5, "b.mp4", 55, 60, 0.69),  # another file
    ]
    out = merge_adjacent(hits)
    assert [h.rank for h in out] == [1, 2, 3]
    first = out[0]
    assert (first.locator.start_s, first.locator.end_s) == (20, 55)
    assert first.score == 0.80 and first.item_id == "a.mp4@30"
    assert first.metadata["merged"] == ["a.mp4@40", "a.mp4@20"]
    assert first.snippet == "text 20 … text 30 … text 40"
    assert [h.source for h in out[1:]] == ["doc.pdf", "b.mp4"]


def test_weak_or_distant_neighbours_stay_apart() -> None:
    hits = [
        hit(1, "a.mp4", 30, 40, 0.80),
        hit(2, "a.mp4", 42, 50, 0.79),  # strong, but 2 s after the first ends
        hit(3, "a.mp4", 90, 99, 0.78),  # far away
        hit(4, "a.mp4", 40, 42, 0.30),  # adjacent to both, but much weaker
    ]
    out = merge_adjacent(hits)
    assert [(h.locator.start_s, h.locator.end_s) for h in out] == [
        (30, 40),
        (42, 50),
        (90, 99),
        (40, 42),
    ]
    assert all("merged" not in h.metadata for h in out)


def test_no_timed_hits_pass_through_unchanged() -> None:
    hits = [hit(1, "x.pdf", None, None, 0.5), hit(2, "x.pdf", None, None, 0.4)]
    assert merge_adjacent(hits) == hits
