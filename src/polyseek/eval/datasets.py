"""Readers for BEIR and M-BEIR datasets on local disk.

BEIR (Thakur et al. 2021)::

    corpus.jsonl    {"_id", "title", "text"}
    queries.jsonl   {"_id", "text"}
    qrels/<split>.tsv   query-id <TAB> corpus-id <TAB> score   (with a header line)

M-BEIR (UniIR, Wei et al. 2023)::

    query/<split>/*.jsonl        {"qid", "query_txt", "query_img_path", "query_modality"}
    cand_pool/local/*.jsonl      {"did", "txt", "img_path", "modality"}   (one file per task)
    cand_pool/global/*.jsonl     the union pool (optional: else the union of local pools)
    qrels/<split>/*.txt          "qid 0 did relevance task_id" per line

A local pool belongs to the query file with the same stem before ``_cand_pool`` /
``_<split>`` (``mbeir_mscoco_task0_cand_pool.jsonl`` <-> ``mbeir_mscoco_task0_test.jsonl``).
Image paths are relative to the dataset folder. Every error names the file and line.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError
from polyseek.eval.base import MBEIR_TASKS, EvalDataset, EvalDoc, EvalQuery, EvalTask, task_name
from polyseek.types import Modality

logger = logging.getLogger(__name__)

FORMATS = ("beir", "mbeir")


def load_dataset(fmt: str, path: str | Path, *, split: str = "test") -> EvalDataset:
    """Read a dataset of format ``beir`` or ``mbeir`` from a local folder."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{path}: no such dataset folder")
    if fmt == "beir":
        return load_beir(path, split=split)
    if fmt == "mbeir":
        return load_mbeir(path, split=split)
    raise ConfigError(
        f"unknown dataset format {fmt!r}", hint=f"valid formats: {', '.join(FORMATS)}"
    )


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{lineno}: expected a JSON object per line")
            yield lineno, row


def _field(row: dict[str, Any], key: str, path: Path, lineno: int) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{path}:{lineno}: missing field {key!r}")
    return str(value)


def _require(path: Path) -> Path:
    if not path.exists():
        raise ConfigError(f"{path}: missing (see the dataset layout in polyseek.eval.datasets)")
    return path


# ---------------------------------------------------------------------------- BEIR
def load_beir(path: Path, *, split: str = "test") -> EvalDataset:
    corpus_file = _require(path / "corpus.jsonl")
    docs: dict[str, EvalDoc] = {}
    for lineno, row in _jsonl(corpus_file):
        did = _field(row, "_id", corpus_file, lineno)
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "").strip()
        if not title and not text:
            raise ConfigError(f"{corpus_file}:{lineno}: document {did!r} has no title or text")
        docs[did] = EvalDoc(did, "text", f"{title}\n{text}".strip())
    queries_file = _require(path / "queries.jsonl")
    all_queries = {
        _field(row, "_id", queries_file, n): _field(row, "text", queries_file, n)
        for n, row in _jsonl(queries_file)
    }
    qrels_file = _require(path / "qrels" / f"{split}.tsv")
    qrels = _read_beir_qrels(qrels_file, all_queries, docs)
    queries = [EvalQuery(qid, "beir", text=all_queries[qid]) for qid in sorted(qrels)]
    task = EvalTask("beir", task_name("text", "text"), "text")
    logger.info("BEIR %s: %d docs, %d queries", path.name, len(docs), len(queries))
    return EvalDataset(path.name, "beir", path, docs, queries, qrels, {"beir": task})


def _read_beir_qrels(
    path: Path, queries: dict[str, str], docs: dict[str, EvalDoc]
) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or (lineno == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            if len(row) != 3:
                raise ConfigError(f"{path}:{lineno}: expected query-id, corpus-id, score")
            qid, did, score = (c.strip() for c in row)
            try:
                rel = int(score)
            except ValueError as exc:
                raise ConfigError(f"{path}:{lineno}: score {score!r} is not an integer") from exc
            if qid not in queries:
                raise ConfigError(f"{path}:{lineno}: unknown query id {qid!r}")
            if did not in docs:
                raise ConfigError(f"{path}:{lineno}: unknown corpus id {did!r}")
            qrels.setdefault(qid, {})[did] = rel
    if not qrels:
        raise ConfigError(f"{path}: no relevance judgements")
    return qrels


# ---------------------------------------------------------------------------- M-BEIR
_MBEIR_MODALITY: dict[str, Modality] = {"text": "text", "image": "image", "image,text": "image"}


def _stem(path: Path, suffixes: tuple[str, ...]) -> str:
    name = path.stem
    for suffix in suffixes:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _image_path(root: Path, value: Any, where: str) -> Path | None:
    if not value:
        return None
    p = Path(str(value))
    p = p if p.is_absolute() else root / p
    if not p.is_file():
        raise ConfigError(f"{where}: image {value!r} not found (looked at {p})")
    return p


def _read_pool(root: Path, path: Path, docs: dict[str, EvalDoc]) -> frozenset[str]:
    ids: set[str] = set()
    for lineno, row in _jsonl(path):
        where = f"{path}:{lineno}"
        did = _field(row, "did", path, lineno)
        mod = str(row.get("modality") or "")
        if mod not in _MBEIR_MODALITY:
            raise ConfigError(
                f"{where}: unknown candidate modality {mod!r}",
                hint=f"valid: {', '.join(_MBEIR_MODALITY)}",
            )
        text = str(row.get("txt") or "").strip()
        image = _image_path(root, row.get("img_path"), where)
        if "image" in mod and image is None:
            raise ConfigError(f"{where}: candidate {did!r} of modality {mod!r} has no img_path")
        if mod == "text" and not text:
            raise ConfigError(f"{where}: text candidate {did!r} has no txt")
        doc = EvalDoc(did, _MBEIR_MODALITY[mod], text, image)
        if docs.get(did, doc) != doc:
            raise ConfigError(f"{where}: candidate {did!r} differs from an earlier one")
        docs[did] = doc
        ids.add(did)
    if not ids:
        raise ConfigError(f"{path}: empty candidate pool")
    return frozenset(ids)


def load_mbeir(path: Path, *, split: str = "test") -> EvalDataset:
    query_dir = _require(path / "query" / split)
    qrels_dir = _require(path / "qrels" / split)
    docs: dict[str, EvalDoc] = {}
    local: dict[str, frozenset[str]] = {}
    local_dir = path / "cand_pool" / "local"
    if local_dir.is_dir():
        for f in sorted(local_dir.glob("*.jsonl")):
            local[_stem(f, ("_cand_pool",))] = _read_pool(path, f, docs)
    global_dir = path / "cand_pool" / "global"
    if global_dir.is_dir():
        for f in sorted(global_dir.glob("*.jsonl")):
            _read_pool(path, f, docs)
    if not docs:
        raise ConfigError(f"{path}: no candidate pool under cand_pool/local or cand_pool/global")

    qrels: dict[str, dict[str, int]] = {}
    qrel_task: dict[str, str] = {}
    for f in sorted(qrels_dir.glob("*.txt")):
        for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (4, 5):
                raise ConfigError(f"{f}:{lineno}: expected 'qid 0 did relevance task_id'")
            qid, did, rel = parts[0], parts[2], parts[3]
            if did not in docs:
                raise ConfigError(f"{f}:{lineno}: candidate {did!r} is in no candidate pool")
            try:
                qrels.setdefault(qid, {})[did] = int(rel)
            except ValueError as exc:
                raise ConfigError(f"{f}:{lineno}: relevance {rel!r} is not an integer") from exc
            if len(parts) == 5:
                qrel_task[qid] = parts[4]
    if not qrels:
        raise ConfigError(f"{qrels_dir}: no relevance judgements (*.txt)")

    queries: list[EvalQuery] = []
    tasks: dict[str, EvalTask] = {}
    query_files = sorted(query_dir.glob("*.jsonl"))
    if not query_files:
        raise ConfigError(f"{query_dir}: no query files (*.jsonl)")
    for f in query_files:
        pool = local.get(_stem(f, (f"_{split}",)))
        for lineno, row in _jsonl(f):
            where = f"{f}:{lineno}"
            qid = _field(row, "qid", f, lineno)
            if qid not in qrels:
                continue  # no judgements: M-BEIR skips such queries too
            task = str(row.get("task_id", qrel_task.get(qid, "")))
            if task not in MBEIR_TASKS:
                raise ConfigError(
                    f"{where}: query {qid!r} has unknown task id {task!r}",
                    hint=f"valid M-BEIR task ids: {', '.join(MBEIR_TASKS)}",
                )
            qmod = str(row.get("query_modality") or MBEIR_TASKS[task][0])
            text = str(row.get("query_txt") or "").strip() or None
            image = _image_path(path, row.get("query_img_path"), where)
            if "text" in qmod and text is None:
                raise ConfigError(f"{where}: query {qid!r} of modality {qmod!r} has no query_txt")
            if "image" in qmod and image is None:
                raise ConfigError(f"{where}: query {qid!r} of modality {qmod!r} has no image")
            queries.append(EvalQuery(qid, task, text, image))
            qmod_task, target = MBEIR_TASKS[task]
            previous = tasks.get(task)
            if previous is not None and previous.pool != pool:
                # Several local pools for one task id: the task's pool is their union.
                merged = (previous.pool or frozenset()) | (pool or frozenset())
                tasks[task] = EvalTask(task, previous.name, previous.target_modality, merged)
            elif previous is None:
                tasks[task] = EvalTask(
                    task, task_name(qmod_task, target), _MBEIR_MODALITY[target], pool
                )
    if not queries:
        raise ConfigError(f"{query_dir}: no query has relevance judgements in {qrels_dir}")
    logger.info("M-BEIR %s: %d candidates, %d queries", path.name, len(docs), len(queries))
    return EvalDataset(path.name, "mbeir", path, docs, queries, qrels, dict(sorted(tasks.items())))


__all__ = ["FORMATS", "load_beir", "load_dataset", "load_mbeir"]
