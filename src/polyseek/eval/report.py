"""Write an evaluation result as JSON, and as an HTML page with PNG plots.

Plots (matplotlib, Agg backend: no display needed): per-task bars of the main metrics on
each pool, hit@k and recall@k curves per task, and the target-modality share per task
on each pool.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from polyseek.errors import ConfigError

logger = logging.getLogger(__name__)

BAR_METRICS = ("hit@1", "hit@5", "hit@10", "recall@10", "ndcg@10", "mrr@10", "map")


def write_json(result: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _task_rows(result: dict[str, Any], pool: str) -> list[tuple[str, dict[str, Any]]]:
    tasks = result["pools"].get(pool, {}).get("tasks", {})
    return [(f"{t} {v['name']}", v) for t, v in sorted(tasks.items()) if "metrics" in v]


def _bars(result: dict[str, Any], out: Path) -> list[Path]:
    plt = _plt()
    written = []
    for pool in sorted(result["pools"]):
        rows = _task_rows(result, pool)
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows) + 3), 4))
        width = 0.8 / len(BAR_METRICS)
        for m, metric in enumerate(BAR_METRICS):
            xs = [i + m * width for i in range(len(rows))]
            ax.bar(xs, [r["metrics"][metric] for _, r in rows], width, label=metric)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
        ax.set_xticklabels([name for name, _ in rows], rotation=15, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"metrics per task ({pool} pool)")
        ax.legend(fontsize=7, ncol=4)
        fig.tight_layout()
        path = out / f"tasks-{pool}.png"
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


def _curves(result: dict[str, Any], out: Path) -> list[Path]:
    plt = _plt()
    written = []
    for pool in sorted(result["pools"]):
        rows = _task_rows(result, pool)
        if not rows:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, kind in zip(axes, ("hit", "recall"), strict=True):
            for name, r in rows:
                ys = r["curves"][kind]
                ax.plot(range(1, len(ys) + 1), ys, marker=".", label=name)
            ax.set_xlabel("k")
            ax.set_ylabel(f"{kind}@k")
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{kind}@k ({pool} pool)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"curves-{pool}.png"
        fig.savefig(path, dpi=90, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


def _shares(result: dict[str, Any], out: Path) -> Path | None:
    plt = _plt()
    share_key = f"target_share@{result['config']['share_k']}"
    pools = sorted(result["pools"])
    names = sorted({name for p in pools for name, _ in _task_rows(result, p)})
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names) + 3), 4))
    width = 0.8 / len(pools)
    for n, pool in enumerate(pools):
        rows = dict(_task_rows(result, pool))
        ax.bar(
            [i + n * width for i in range(len(names))],
            [rows[name][share_key] if name in rows else 0.0 for name in names],
            width,
            label=f"{pool} pool",
        )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels(names, rotation=15, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(share_key)
    ax.set_title("share of top-k results in the task's target modality")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "modality-share.png"
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def _table(result: dict[str, Any], pool: str) -> str:
    share_key = f"target_share@{result['config']['share_k']}"
    tasks = result["pools"][pool]["tasks"]
    head = "".join(f"<th>{m}</th>" for m in (*BAR_METRICS, share_key))
    rows = []
    for t, v in sorted(tasks.items()):
        label = html.escape(f"{t} {v['name']}")
        if "metrics" not in v:
            rows.append(f"<tr><td>{label}</td><td colspan=8>{html.escape(v['error'])}</td></tr>")
            continue
        cells = "".join(f"<td>{v['metrics'][m]:.4f}</td>" for m in BAR_METRICS)
        rows.append(
            f"<tr><td>{label} ({v['queries']} q)</td>{cells}<td>{v[share_key]:.4f}</td></tr>"
        )
    avg = result["pools"][pool].get("average")
    if avg:
        cells = "".join(f"<td><b>{avg['metrics'][m]:.4f}</b></td>" for m in BAR_METRICS)
        rows.append(f"<tr><td><b>average</b></td>{cells}<td><b>{avg[share_key]:.4f}</b></td></tr>")
    return f"<table><tr><th>task</th>{head}</tr>{''.join(rows)}</table>"


def write_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``result.json``, the PNG plots and ``index.html`` into ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: not a folder (the report needs a folder)")
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "result.json")
    images = [*_bars(result, out), *_curves(result, out)]
    share = _shares(result, out)
    if share is not None:
        images.append(share)
    ds = result["dataset"]
    sections = [f"<h2>{pool} pool</h2>{_table(result, pool)}" for pool in sorted(result["pools"])]
    config = html.escape(
        json.dumps(
            {"config": result["config"], "encoders": result["encoders"]}, indent=2, sort_keys=True
        )
    )
    imgs = "".join(f'<p><img src="{p.name}" alt="{p.stem}"></p>' for p in images)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>polyseek eval: {html.escape(ds["name"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
</style></head><body>
<h1>polyseek eval: {html.escape(ds["name"])} ({html.escape(ds["format"])})</h1>
<p>{ds["candidates"]} candidates, {ds["queries"]} queries. Metrics from trec_eval;
hit@k = at least one relevant result in the top k (UniIR's recall@k).
Full numbers: <a href="result.json">result.json</a>.</p>
{"".join(sections)}
{imgs}
<h2>configuration</h2><pre>{config}</pre>
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    logger.info("report written to %s", out)
    return out / "index.html"


__all__ = ["write_json", "write_report"]
