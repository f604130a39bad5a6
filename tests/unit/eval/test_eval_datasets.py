"""BEIR and M-BEIR readers: the bundled samples, and clear errors on bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from polyseek.errors import ConfigError
from polyseek.eval import load_dataset
from polyseek.eval.samples import write_beir_papers
from polyseek.samples import load_papers

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "examples" / "eval"


def test_bundled_beir_sample():
    ds = load_dataset("beir", SAMPLES / "beir-papers")
    assert len(ds.docs) == len(ds.queries) == len(load_papers(REPO / "tests/fixtures/papers"))
    assert list(ds.tasks) == ["beir"] and ds.tasks["beir"].name == "text->text"
    q = ds.queries[0]
    assert list(ds.qrels[q.id].values()) == [1]


def test_bundled_mbeir_sample_tasks_and_pools():
    ds = load_dataset("mbeir", SAMPLES / "mbeir-mini")
    assert {t: v.name for t, v in ds.tasks.items()} == {
        "1": "text->text",
        "2": "text->text+image",
        "3": "image->text",
    }
    assert ds.tasks["2"].target_modality == "image"
    assert {ds.docs[d].modality for d in ds.tasks["2"].pool} == {"image"}
    assert {ds.docs[d].modality for d in ds.tasks["1"].pool} == {"text"}
    assert ds.tasks["1"].pool | ds.tasks["2"].pool == set(ds.docs)
    image_queries = [q for q in ds.queries if q.task == "3"]
    assert image_queries and all(q.image_path.is_file() and q.text is None for q in image_queries)


def test_samples_are_rebuilt_identically(tmp_path):
    papers = load_papers(REPO / "tests/fixtures/papers")
    write_beir_papers(papers, tmp_path / "b")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / "b" / name).read_bytes() == (SAMPLES / "beir-papers" / name).read_bytes()


@pytest.fixture
def beir_copy(tmp_path) -> Path:
    dest = tmp_path / "beir"
    shutil.copytree(SAMPLES / "beir-papers", dest)
    return dest


def test_bad_json_line_names_file_and_line(beir_copy):
    with (beir_copy / "corpus.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{oops\n")
    n = len((beir_copy / "corpus.jsonl").read_text().splitlines())
    with pytest.raises(ConfigError, match=rf"corpus.jsonl:{n}: not valid JSON"):
        load_dataset("beir", beir_copy)


def test_qrels_with_unknown_document(beir_copy):
    with (beir_copy / "qrels" / "test.tsv").open("a", encoding="utf-8") as fh:
        fh.write("q0000\tnope\t1\n")
    with pytest.raises(ConfigError, match="unknown corpus id 'nope'"):
        load_dataset("beir", beir_copy)


def test_missing_files_and_unknown_format(beir_copy, tmp_path):
    (beir_copy / "queries.jsonl").unlink()
    with pytest.raises(ConfigError, match="queries.jsonl: missing"):
        load_dataset("beir", beir_copy)
    with pytest.raises(ConfigError, match="unknown dataset format 'trec'"):
        load_dataset("trec", beir_copy)
    with pytest.raises(ConfigError, match="no such dataset folder"):
        load_dataset("beir", tmp_path / "absent")


def test_mbeir_missing_image_and_bad_task(tmp_path):
    dest = tmp_path / "m"
    shutil.copytree(SAMPLES / "mbeir-mini", dest)
    (dest / "images" / "fig0001.png").unlink()  # a candidate figure
    with pytest.raises(
        ConfigError, match=r"cand_pool.jsonl:1: image 'images/fig0001.png' not found"
    ):
        load_dataset("mbeir", dest)
    shutil.rmtree(dest)
    shutil.copytree(SAMPLES / "mbeir-mini", dest)
    qfile = next((dest / "query" / "test").glob("*task1_test.jsonl"))
    rows = [json.loads(x) for x in qfile.read_text().splitlines()]
    rows[0]["task_id"] = 42
    qfile.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(ConfigError, match="unknown task id '42'"):
        load_dataset("mbeir", dest)
