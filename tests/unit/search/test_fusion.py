from polyseek.search.fusion import ReciprocalRankFusion
from polyseek.search.snippets import snippet


def test_single_list_keeps_raw_scores():
    fused = ReciprocalRankFusion().fuse({"a": [("x", 0.9), ("y", 0.5)]}, k=5)
    assert [(f.item_id, f.score) for f in fused] == [("x", 0.9), ("y", 0.5)]
    assert fused[0].signals == {"a": 0.9}


def test_rrf_rewards_agreement_and_records_signals():
    lists = {
        "text": [("a", 0.8), ("b", 0.7), ("c", 0.6)],
        "image": [("b", 0.31), ("d", 0.30), ("a", 0.1)],
    }
    fused = ReciprocalRankFusion(k=60).fuse(lists, k=3)
    assert [f.item_id for f in fused] == ["b", "a", "d"]
    assert fused[0].score == 1 / 62 + 1 / 61
    assert fused[0].signals == {"text": 0.7, "image": 0.31}
    assert fused[2].signals == {"image": 0.30}


def test_empty_lists():
    assert ReciprocalRankFusion().fuse({"a": [], "b": []}, k=3) == []


def test_snippet_picks_window_with_query_words():
    text = (
        "Intro sentence here. " * 20 + "The pump housing bolts need 25 Nm of torque. " + "x. " * 50
    )
    s = snippet(text, "torque for housing bolts", width=80)
    assert "torque" in s and len(s) <= 82
    assert snippet("short text", "q") == "short text"
