"""Metrics and tables of ``benchmarks/documents.py`` (from its per-query records)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

PEER = "LanceDB hybrid (RRF) + MiniLM"
DEFAULTS = "polyseek defaults"
TASK_LABELS = {"sentence": "(a) sentence", "words": "(b) 3-6 words", "scan": "(c) scan + OCR"}
# Issue 10's targets for polyseek's defaults on the TEST manual (page hit@1).
TARGETS = {"sentence": 0.90, "words": 0.80, "scan": 0.85}


def _scores(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "n": n,
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> dict[str, float]:
    """Exact two-sided McNemar test of paired successes: a's wins, losses and p."""
    wins = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    losses = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = wins + losses
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n if n else 1.0
    return {"wins": wins, "losses": losses, "p": min(1.0, 2 * tail)}


def metrics(
    records: list[dict[str, Any]], systems: list[str], manuals: Sequence[Any], tasks: list[str]
) -> dict[str, Any]:
    per_manual: dict[str, Any] = {}
    for m in manuals:
        per_manual[m.key] = {}
        for task in tasks:
            rows = [r for r in records if r["manual"] == m.key and r["task"] == task]
            if rows:
                per_manual[m.key][task] = {
                    s: {
                        **_scores([r["ranks"][s] for r in rows]),
                        "median_ms": statistics.median(r["ms"][s] for r in rows),
                    }
                    for s in systems
                }
    out: dict[str, Any] = {"per_manual": per_manual}
    for split in ("dev", "test"):
        keys = [m.key for m in manuals if m.split == split]
        out[split] = {}
        for task in [*tasks, "all"]:
            rows = [r for r in records if r["split"] == split and task in (r["task"], "all")]
            if not rows:
                continue
            entry: dict[str, Any] = {}
            for s in systems:
                scored = [per_manual[k][task][s] for k in keys if task in per_manual[k]]
                entry[s] = {
                    "manuals": len(scored),
                    "n": len(rows),
                    "median_ms": statistics.median(r["ms"][s] for r in rows),
                }
                if task != "all":  # macro average: each manual counts once
                    for metric in ("hit@1", "hit@5", "mrr@10"):
                        entry[s][metric] = statistics.fmean(x[metric] for x in scored)
            out[split][task] = entry
        out[f"{split}_vs_peer_hit@1"] = {
            task: {
                s: mcnemar(
                    [
                        r["ranks"][s] == 1
                        for r in records
                        if r["split"] == split and r["task"] == task
                    ],
                    [
                        r["ranks"][PEER] == 1
                        for r in records
                        if r["split"] == split and r["task"] == task
                    ],
                )
                for s in systems
                if s != PEER
            }
            for task in tasks
            if any(r["split"] == split and r["task"] == task for r in records)
        }
    return out


def _f(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def split_table(result: dict[str, Any], split: str, title: str) -> None:
    block = result["metrics"].get(split) or {}
    tasks = [t for t in result["settings"]["tasks"] if t in block]
    if not tasks:
        return
    systems = result["systems"]
    peer_ms = block["all"][PEER]["median_ms"]
    n = " · ".join(f"{TASK_LABELS[t]} n={block[t][systems[0]]['n']}" for t in tasks)
    print(f"\n### {title}\n{n}\n")
    head = " | ".join(f"{TASK_LABELS[t]:^23}" for t in tasks)
    sub = " | ".join(f"{'hit@1':>6} {'hit@5':>6} {'MRR10':>6}   " for _ in tasks)
    width = max(len(s) for s in systems)
    print(f"| {'system':{width}} | {head} | latency* |")
    print(f"| {'':{width}} | {sub} | vs peer  |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 25 for _ in tasks) + "|----------|")
    for s in systems:
        cells = " | ".join(
            f"{_f(block[t][s]['hit@1']):>6} {_f(block[t][s]['hit@5']):>6} "
            f"{_f(block[t][s]['mrr@10']):>6}   "
            for t in tasks
        )
        ratio = block["all"][s]["median_ms"] / peer_ms
        print(f"| {s:{width}} | {cells} | {ratio:7.2f}x |")
    print(
        f"* median query latency (query embedding included) over all {block['all'][PEER]['n']} "
        f"queries of this split / {PEER}'s ({peer_ms:.1f} ms)"
    )
    paired = result["metrics"].get(f"{split}_vs_peer_hit@1", {})
    if DEFAULTS in systems and paired:
        tests = "; ".join(
            f"{TASK_LABELS[t]}: {v[DEFAULTS]['wins']} up / {v[DEFAULTS]['losses']} down, "
            f"p={v[DEFAULTS]['p']:.2g}"
            for t, v in paired.items()
        )
        print(f"hit@1 of {DEFAULTS} vs {PEER} (exact McNemar): {tests}")


def targets(result: dict[str, Any]) -> None:
    block = result["metrics"].get("test") or {}
    if DEFAULTS not in result["systems"]:
        return
    lines = []
    for task, goal in TARGETS.items():
        if task not in block:
            continue
        ours, peer = block[task][DEFAULTS]["hit@1"], block[task][PEER]["hit@1"]
        ok = ours >= goal and ours > peer
        lines.append(
            f"  {TASK_LABELS[task]:15} hit@1 {ours:.3f} (target >= {goal:.2f}, LanceDB hybrid "
            f"{peer:.3f}): {'MET' if ok else 'not met'}"
        )
    if lines:
        print("\nIssue 10 targets, polyseek defaults on the TEST manual:")
        print("\n".join(lines))


def per_manual_tables(result: dict[str, Any]) -> None:
    per = result["metrics"]["per_manual"]
    manuals = [m for m in result["manuals"] if per.get(m["key"])]
    systems = result["systems"]
    width = max(len(s) for s in systems)
    for task in result["settings"]["tasks"]:
        cols = [m for m in manuals if task in per[m["key"]]]
        if not cols:
            continue
        names = [f"{m['key']}{'*' if m['split'] == 'test' else ''}" for m in cols]
        print(f"\n{TASK_LABELS[task]}: page hit@1 per manual (* = TEST; n below)")
        print(f"| {'system':{width}} | " + " | ".join(f"{n:>18}" for n in names) + " |")
        ns = [str(per[m["key"]][task][systems[0]]["n"]) for m in cols]
        print(f"| {'n':{width}} | " + " | ".join(f"{n:>18}" for n in ns) + " |")
        for s in systems:
            cells = " | ".join(f"{per[m['key']][task][s]['hit@1']:>18.3f}" for m in cols)
            print(f"| {s:{width}} | {cells} |")


def index_table(result: dict[str, Any]) -> None:
    rows = result["index"]
    if not rows:
        return
    print("\nIndex time (all manuals of the run), as a ratio to polyseek's page-only ingest")
    print("| system / ingest config                 | text manuals | scans (OCR) | items |")
    print("|----------------------------------------|--------------|-------------|-------|")
    base = {
        k: sum(r["seconds"] for r in rows if r["kind"] == k and r["config"] == 0)
        for k in ("text", "scan")
    }
    labels: dict[str, str] = {}
    for r in rows:
        if r["config"] is None:
            labels.setdefault(r["system"], "LanceDB table (MiniLM + FTS)")
        else:
            diff = result["ingest_configs"][r["config"]]
            text = ", ".join(f"{k}={v}" for k, v in diff.items()) or "IngestOptions()"
            labels.setdefault(r["system"], f"polyseek {r['config']}: {text}")
    for system, label in labels.items():
        cells = []
        for kind in ("text", "scan"):
            secs = sum(r["seconds"] for r in rows if r["system"] == system and r["kind"] == kind)
            cells.append(f"{secs / base[kind]:.2f}x" if base[kind] and secs else "-")
        items = sum(r["items"] for r in rows if r["system"] == system)
        print(f"| {label[:38]:38} | {cells[0]:>12} | {cells[1]:>11} | {items:5d} |")
    print(
        "baseline: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in base.items() if v)
        + " (wall time on a shared 2-core machine: read the ratios)"
    )
    print("LanceDB's scan time excludes OCR: its tesseract text is made once and cached.")


def print_tables(result: dict[str, Any]) -> None:
    test = next((m for m in result["manuals"] if m["split"] == "test"), None)
    dev = [m["key"] for m in result["manuals"] if m["split"] == "dev"]
    print("\n## Page retrieval on real PDF manuals (benchmarks/documents.py)")
    for m in result["manuals"]:
        print(
            f"  {m['split']:4} {m['key']:18} {m['package']} {m['version']} "
            f"pages {m['first_page']}-{m['last_page']} of {m['pages_total']} "
            f"sha256 {m['pdf_sha256'][:12]}"
        )
    if test:
        split_table(result, "test", f"TEST manual: {test['key']} (held out; headline)")
        targets(result)
    if dev:
        split_table(result, "dev", f"DEV manuals: {', '.join(dev)} (macro average)")
    per_manual_tables(result)
    index_table(result)
    skipped = [v for v in result["variants"] if v["skipped"]]
    for v in skipped:
        print(f"skipped variant {v['name']!r}: {v['skipped']}")
    print(f"run time {result['seconds'] / 60:.1f} min")
