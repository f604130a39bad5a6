"""`polyseek eval` / `compare` as a user reads them: pools tested once, instructions checked,
recall against exact search kept, whole numbers in tables, progress (issue 16)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from polyseek.eval import EvalConfig, EvalProgress, Evaluator, load_dataset
from polyseek.eval.samples import write_beir_papers
from polyseek.samples import load_papers
from tests.helpers.cli import cli

REPO = Path(__file__).resolve().parents[2]
MBEIR = REPO / "examples" / "eval" / "mbeir-mini"
runner = CliRunner()


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    papers = load_papers(REPO / "tests" / "fixtures" / "papers")[:20]
    return write_beir_papers(papers, tmp_path_factory.mktemp("beir") / "papers")


def numbers_in(result: dict) -> list[str]:
    """Every metric value of a result as the eval table prints it."""
    shown = []
    for pool in result["pools"].values():
        for task in pool["tasks"].values():
            if "metrics" not in task:
                continue  # a skipped task
            shown += [f"{task['metrics'][k]:.4f}" for k in ("hit@1", "ndcg@10", "mrr@10", "map")]
    return shown


def test_beir_pools_are_tested_once_and_tables_keep_whole_numbers(beir, tmp_path):
    paths = []
    for name, extra in (("bm25", []), ("calibrated", ["--calibrate"])):
        path = tmp_path / f"{name}.json"
        code, out, err = cli(
            "eval", "beir", str(beir), "--no-dense", "--lexical", "--json", str(path), *extra
        )
        assert code == 0, err
        paths.append(path)
        assert "…" not in out  # piped at 80 columns: nothing cut
        result = json.loads(path.read_text())
        assert result["pools"]["local"]["tasks"]["beir"]["same_as"] == "union"
        for value in numbers_in(result):
            assert value in out
    code, out, err = cli("compare", *map(str, paths), "--json", str(tmp_path / "cmp.json"))
    assert code == 0, err
    tests = json.loads((tmp_path / "cmp.json").read_text())
    assert {t["pool"] for t in tests} == {"union"}  # the local pool is the same pool
    assert "…" not in out
    assert f"all {len(tests)} tests" in out
    # Results written before the mark: BEIR's local pool is still recognised.
    for path in paths:
        old = json.loads(path.read_text())
        del old["pools"]["local"]["tasks"]["beir"]["same_as"]
        path.write_text(json.dumps(old))
    code, _, err = cli("compare", *map(str, paths), "--json", str(tmp_path / "old.json"))
    assert code == 0, err
    assert {t["pool"] for t in json.loads((tmp_path / "old.json").read_text())} == {"union"}


def test_compare_table_keeps_whole_numbers_at_80_columns(tmp_path):
    raw, cal = tmp_path / "raw.json", tmp_path / "cal.json"
    for path, extra in ((raw, []), (cal, ["--calibrate"])):
        code, out, err = cli("eval", "mbeir", str(MBEIR), "--json", str(path), *extra)
        assert code == 0, err
        assert "…" not in out
        for value in numbers_in(json.loads(path.read_text())):
            assert value in out
    code, out, err = cli("compare", str(raw), str(cal), "--json", str(tmp_path / "cmp.json"))
    assert code == 0, err
    assert "…" not in out
    for t in json.loads((tmp_path / "cmp.json").read_text()):
        assert f"{t['base']:.4f}" in out and f"{t['delta']:+.4f}" in out


def test_instruction_for_an_unknown_task_is_refused(beir):
    code, _, err = cli(
        "eval", "beir", str(beir), "--no-dense", "--lexical", "--instruction", "0=a "
    )
    assert code == 2
    assert "task '0'" in err and "beir (text->text)" in err
    code, _, err = cli("eval", "mbeir", str(MBEIR), "--instruction", "7=x", "--pool", "union")
    assert code == 2 and "1 (text->text)" in err and "3 (image->text)" in err


def test_first_pass_recall_is_kept_with_local_pools_only(beir, tmp_path):
    path = tmp_path / "fp.json"
    code, out, err = cli(
        "eval", "beir", str(beir), "--no-lexical", "--first-pass", "truncate:64",
        "--pool", "local", "--json", str(path),
    )  # fmt: skip
    assert code == 0, err
    fp = json.loads(path.read_text())["first_pass"]
    assert fp["pool"] == "local" and 0.0 <= fp["recall@10_vs_exact"] <= 1.0
    assert "recall@10 against exact search (local pool)" in out


class Recorder(EvalProgress):
    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.done: dict[str, int] = {}

    def phase(self, description: str, total: int) -> None:
        self.phases.append((description, total))
        self.done[description] = 0

    def advance(self, n: int) -> None:
        self.done[self.phases[-1][0]] += n


def test_evaluation_reports_each_phase(beir):
    recorder = Recorder()
    config = EvalConfig.of(dense=False, lexical=True)
    with Evaluator(config, encoders=[], progress=recorder) as ev:
        ev.run(load_dataset("beir", beir))
    assert recorder.phases == [("indexing union pool", 20), ("searching union, task beir", 20)]
    assert all(recorder.done[d] == n for d, n in recorder.phases)


def test_eval_cli_draws_progress_on_a_terminal(beir, monkeypatch):
    import polyseek.cli.eval as eval_cli

    buf = io.StringIO()
    monkeypatch.setattr(eval_cli, "err", Console(file=buf, force_terminal=True, width=120))
    code, _, err = cli("eval", "beir", str(beir), "--no-dense", "--lexical", "--pool", "union")
    assert code == 0, err
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert "indexing union pool" in drawn and "searching union, task beir" in drawn
    assert "20/20" in drawn
