"""Build small BEIR- and M-BEIR-format datasets from the paper listings (deterministic).

* :func:`write_beir_papers` -- the known-item task: each paper's title is a query, its
  abstract the one relevant document.
* :func:`write_mbeir_papers` -- a mixed pool: half the papers are candidates as their
  abstract (text), the other half as their figure (an image drawn here, with a
  one-sentence caption taken from the abstract: an ``image,text`` candidate). Tasks:
  title -> abstract (M-BEIR task 1), title -> figure (task 2), figure image ->
  abstract (task 3). Each task has its local pool; the union pool holds everything.

Same papers in, byte-identical files out.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from polyseek.samples import Paper

FIGURE_SIZE = 96
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def write_beir_papers(papers: Sequence[Paper], out: str | Path) -> Path:
    """BEIR folder: corpus (abstracts), queries (titles), qrels/test.tsv."""
    out = Path(out)
    corpus = [{"_id": f"d{n:04d}", "title": "", "text": p.abstract} for n, p in enumerate(papers)]
    queries = [{"_id": f"q{n:04d}", "text": p.title} for n, p in enumerate(papers)]
    _write_jsonl(out / "corpus.jsonl", corpus)
    _write_jsonl(out / "queries.jsonl", queries)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"q{n:04d}\td{n:04d}\t1" for n in range(len(papers))]
    (out / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def caption_of(paper: Paper, sentence: int = 1) -> str:
    """A figure caption from the abstract: sentence ``sentence`` (default the second; -1
    the last), or the first when the abstract is shorter."""
    sentences = [s for s in _SENTENCE.split(paper.abstract) if len(s.split()) >= 5]
    if not sentences:
        chosen = paper.title
    elif -len(sentences) <= sentence < len(sentences):
        chosen = sentences[sentence]
    else:
        chosen = sentences[0]
    return "Figure: " + " ".join(chosen.split()[:40])


def draw_figure(paper: Paper, path: Path, size: int = FIGURE_SIZE) -> None:
    """A small bar-chart-like figure whose colours and bars derive from the title."""
    from PIL import Image, ImageDraw

    seed = hashlib.sha256(paper.title.encode()).digest()
    bg = (230 + seed[0] % 26, 230 + seed[1] % 26, 230 + seed[2] % 26)
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    bars = 3 + seed[3] % 4
    width = (size - 16) // bars
    for b in range(bars):
        height = 10 + seed[4 + b] % (size - 24)
        color = (seed[10 + b] % 200, seed[14 + b] % 200, seed[18 + b] % 200)
        x0 = 8 + b * width
        draw.rectangle([x0 + 2, size - 8 - height, x0 + width - 2, size - 8], fill=color)
    draw.line([(6, size - 8), (size - 6, size - 8)], fill=(0, 0, 0), width=1)
    draw.line([(6, 6), (6, size - 8)], fill=(0, 0, 0), width=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG", optimize=False)


def write_mbeir_papers(
    papers: Sequence[Paper],
    out: str | Path,
    *,
    name: str = "papers",
    caption_sentence: int = 1,
    text_parity: int = 0,
    max_figures: int | None = None,
) -> Path:
    """M-BEIR folder (query/, cand_pool/local|global/, qrels/, images/) for ``papers``.

    Papers at even positions (odd with ``text_parity=1``) are candidates as their
    abstract (text), the others as their figure (an image whose caption is sentence
    ``caption_sentence`` of the abstract), so each task's queries are its own and a
    ranking can favour the wrong modality without a zero-sum trade. ``max_figures`` keeps
    only that many figure papers (a collection of many texts and a few images).
    """
    out = Path(out)
    texts = list(range(text_parity % 2, len(papers), 2))
    images = list(range(1 - text_parity % 2, len(papers), 2))[:max_figures]
    for n, p in enumerate(papers):
        draw_figure(p, out / _figure(n))
    abstracts: list[dict[str, Any]] = [
        {"did": f"t{n:04d}", "txt": papers[n].abstract, "img_path": None, "modality": "text"}
        for n in texts
    ]
    figures: list[dict[str, Any]] = [
        {
            "did": f"i{n:04d}",
            "txt": caption_of(papers[n], caption_sentence),
            "img_path": _figure(n),
            "modality": "image,text",
        }
        for n in images
    ]
    # task id -> (label, query modality, query fields of paper n, papers, target prefix)
    tasks: dict[int, tuple[str, str, Callable[[int], dict[str, Any]], list[int], str]] = {
        1: ("title2abstract", "text", lambda n: {"query_txt": papers[n].title}, texts, "t"),
        2: ("title2figure", "text", lambda n: {"query_txt": papers[n].title}, images, "i"),
        3: ("figure2abstract", "image", lambda n: {"query_img_path": _figure(n)}, texts, "t"),
    }
    for task_id, (label, qmod, fields, picked, prefix) in tasks.items():
        stem = f"mbeir_{name}_{label}_task{task_id}"
        rows = [
            {
                "qid": f"{task_id}:{n:04d}",
                "query_modality": qmod,
                "query_txt": None,
                "query_img_path": None,
                "task_id": task_id,
                **fields(n),
            }
            for n in picked
        ]
        _write_jsonl(out / "query" / "test" / f"{stem}_test.jsonl", rows)
        pool = abstracts if prefix == "t" else figures
        _write_jsonl(out / "cand_pool" / "local" / f"{stem}_cand_pool.jsonl", pool)
        qrels = [f"{task_id}:{n:04d} 0 {prefix}{n:04d} 1 {task_id}" for n in picked]
        path = out / "qrels" / "test" / f"{stem}_test_qrels.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(qrels) + "\n", encoding="utf-8")
    _write_jsonl(
        out / "cand_pool" / "global" / f"mbeir_{name}_union_test_cand_pool.jsonl",
        abstracts + figures,
    )
    return out


def _figure(n: int) -> str:
    return f"images/fig{n:04d}.png"


__all__ = ["caption_of", "draw_figure", "write_beir_papers", "write_mbeir_papers"]
