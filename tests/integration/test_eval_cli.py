"""`polyseek eval` end to end on the bundled samples: metrics, report, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyseek.encoders import load_encoder
from polyseek.eval import EvalConfig, Evaluator, load_dataset
from polyseek.eval.samples import write_beir_papers
from polyseek.samples import load_papers
from tests.helpers.cli import cli
from tests.helpers.tiny_models import make_tiny_clip

REPO = Path(__file__).resolve().parents[2]
MBEIR = REPO / "examples" / "eval" / "mbeir-mini"
runner = CliRunner()


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm")


def test_cli_on_mbeir_sample_writes_json_and_report(tmp_path):
    code, out, err = cli(
        "eval", "mbeir", str(MBEIR), "--lexical", "--calibrate",
        "--report", str(tmp_path / "report"), "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    assert "union pool" in out and "local pool" in out
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["config"]["lexical"] and result["config"]["calibrate"]
    assert result["encoders"][0]["spec"] == "minilm"
    union = result["pools"]["union"]["tasks"]
    # Title -> abstract is easy for MiniLM + BM25 on 48 candidates.
    assert union["1"]["metrics"]["hit@10"] == 1.0
    assert 0.0 < union["2"]["target_share@10"] <= 1.0
    # A text-only index cannot run image queries: the task says why, the rest still runs.
    assert "image-text encoder" in union["3"]["error"]
    assert set(result["modality_bias"]["1"]["drop"]) >= {"hit@10", "ndcg@10", "mrr@10", "map"}
    report = tmp_path / "report"
    for name in ("index.html", "result.json", "tasks-union.png", "curves-local.png"):
        assert (report / name).stat().st_size > 0
    assert (report / "modality-share.png").read_bytes()[:4] == b"\x89PNG"
    assert "text-&gt;text+image" in (report / "index.html").read_text()


def test_same_config_twice_gives_identical_numbers(minilm):
    dataset = load_dataset("mbeir", MBEIR)
    config = EvalConfig.of(lexical=True, calibrate=True, cutoff="gap:0.2", pools=("union",))
    first = Evaluator(config, encoders=[minilm]).run(dataset)
    second = Evaluator(config, encoders=[minilm]).run(load_dataset("mbeir", MBEIR))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    # The cut-off returns fewer than the 100 results asked for.
    assert first["pools"]["union"]["tasks"]["1"]["mean_results"] < 48


def test_image_text_encoder_runs_every_task_and_reports_ann_recall(tmp_path, minilm):
    clip_dir = make_tiny_clip(tmp_path / "clip")
    config = EvalConfig.of(encoders=("minilm", f"clip:{clip_dir}"), exact=False)
    with Evaluator(config, encoders=[minilm, load_encoder(f"clip:{clip_dir}")]) as ev:
        result = ev.run(load_dataset("mbeir", MBEIR))
    for pool in ("local", "union"):
        tasks = result["pools"][pool]["tasks"]
        assert all("metrics" in tasks[t] for t in ("1", "2", "3")), tasks
    assert 0.0 <= result["ann"]["recall@10_vs_exact"] <= 1.0
    assert [e["spec"] for e in result["encoders"]] == ["minilm", f"clip:{clip_dir}"]


def test_cli_beir_lexical_only_and_bad_input(tmp_path):
    papers = load_papers(REPO / "tests" / "fixtures" / "papers")[:20]
    data = write_beir_papers(papers, tmp_path / "beir")
    code, out, err = cli(
        "eval", "beir", str(data), "--no-dense", "--lexical", "--pool", "union",
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["pools"]["union"]["tasks"]["beir"]["metrics"]["mrr@10"] > 0.5
    assert list(result["pools"]) == ["union"]
    code, _, err = cli("eval", "beir", str(tmp_path / "nowhere"))
    assert code == 2 and "no such dataset folder" in err
    code, _, err = cli("eval", "beir", str(data), "--cutoff", "steep:1")
    assert code == 2 and "unknown cut-off mode" in err


def test_eval_where_filters_the_candidates(tmp_path):
    # --where reaches eval: only documents d0000-d0009 stay searchable, so the queries of
    # the other ten cannot find theirs, and the config records the filter.
    papers = load_papers(REPO / "tests" / "fixtures" / "papers")[:20]
    data = write_beir_papers(papers, tmp_path / "beir")
    code, _, err = cli(
        "eval", "beir", str(data), "--no-dense", "--lexical", "--pool", "union",
        "--where", "source GLOB '*d000*'", "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["config"]["where"] == "source GLOB '*d000*'"
    mrr = result["pools"]["union"]["tasks"]["beir"]["metrics"]["mrr@10"]
    assert 0.3 < mrr <= 0.5  # at most the ten queries whose document stayed


def test_search_cli_ranking_options(tmp_path):
    root = tmp_path / "papers"
    root.mkdir()
    papers = load_papers(REPO / "tests" / "fixtures" / "papers")[:6]
    for n, paper in enumerate(papers):
        (root / f"p{n}.txt").write_text(f"{paper.title}\n\n{paper.abstract}\n", encoding="utf-8")
    code, _, err = cli("index", str(root))
    assert code == 0, err
    code, out, err = cli(
        "search", papers[4].title, "-c", str(root), "--lexical", "--calibrate",
        "--cutoff", "relative:1.0", "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert [h["source"] for h in result["hits"]] == ["p4.txt"]
    assert set(result["hits"][0]["signals"]) == {"minilm", "lexical"}
    code, _, err = cli("search", "x", "-c", str(root), "--rerank", "nope:model")
    assert code == 2 and "unknown reranker backend 'nope'" in err


def test_compare_tests_two_results_per_task_and_refuses_bad_files(tmp_path):
    raw, cal = tmp_path / "raw.json", tmp_path / "cal.json"
    for path, extra in ((raw, []), (cal, ["--calibrate"])):
        code, _, err = cli(
            "eval", "mbeir", str(MBEIR), "--pool", "union", "--json", str(path), *extra
        )
        assert code == 0, err
    code, out, err = cli("compare", str(raw), str(cal), "--json", str(tmp_path / "cmp.json"))
    assert code == 0, err
    assert "McNemar" in out and "Holm" in out
    tests = json.loads((tmp_path / "cmp.json").read_text())
    scored = {(t["task"], t["metric"]) for t in tests}
    assert {("1", "hit@1"), ("2", "target_share@10"), ("1", "ndcg@10")} <= scored
    per_query = json.loads(raw.read_text())["pools"]["union"]["tasks"]["1"]["per_query"]
    for t in tests:
        assert t["pool"] == "union"
        if t["task"] == "1":
            assert t["queries"] == len(per_query)
        assert 0.0 <= t["p"] <= t["p_holm"] <= 1.0
        assert t["better"] + t["worse"] <= t["queries"]
    (tmp_path / "bad.json").write_text("{not json")
    code, _, err = cli("compare", str(raw), str(tmp_path / "bad.json"))
    assert code == 2 and "bad.json" in err and "not a JSON file" in err


def test_default_calibration_corrects_hubness_on_the_mixed_sample(minilm):
    dataset = load_dataset("mbeir", MBEIR)
    results = {}
    with Evaluator(EvalConfig.of(pools=("union",)), encoders=[minilm]) as ev:
        for mode in ("query", "hubness"):
            ev.configure(EvalConfig.of(calibrate=True, calibration=mode, pools=("union",)))
            results[mode] = ev.run(dataset)
    assert EvalConfig.of().ranking.calibration == "hubness"
    assert results["hubness"]["config"]["calibration"] == "hubness"
    tasks = {m: r["pools"]["union"]["tasks"] for m, r in results.items()}
    # The same per-query standardisation, but hub items are pushed down: some query's
    # metrics (or its modality mix) change, and every number stays a valid one.
    changed = [
        (t, q)
        for t in ("1", "2")
        for q, row in tasks["hubness"][t]["per_query"].items()
        if row != tasks["query"][t]["per_query"][q]
    ]
    assert changed
    for t in ("1", "2"):
        assert 0.0 <= tasks["hubness"][t]["target_share@10"] <= 1.0
