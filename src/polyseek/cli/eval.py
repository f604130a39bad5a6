"""`polyseek eval`: run the evaluation harness on a BEIR or M-BEIR folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from polyseek.cli.options import ImageWeightOpt, err, out, ranking_options
from polyseek.errors import ConfigError
from polyseek.search.base import Ranking


@ranking_options
def eval_command(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="Dataset format: beir or mbeir.")],
    path: Annotated[Path, typer.Argument(help="Dataset folder.")],
    encoder: Annotated[
        list[str] | None,
        typer.Option(
            "--encoder", "--model", "-e", help="Encoder spec (repeatable; default minilm)."
        ),
    ] = None,
    image_weight: ImageWeightOpt = 0.5,
    instruction: Annotated[
        list[str] | None,
        typer.Option(help="Query prefix per task: TASK=TEXT or *=TEXT (repeatable)."),
    ] = None,
    depth: Annotated[int, typer.Option(help="Results scored per query.")] = 100,
    pool: Annotated[
        list[str] | None, typer.Option(help="Pools to evaluate: local, union (default both).")
    ] = None,
    split: Annotated[str, typer.Option(help="Dataset split.")] = "test",
    report: Annotated[
        Path | None, typer.Option(help="Folder for result.json, index.html and PNG plots.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON here.")] = None,
    *,
    ranking: Ranking,
) -> None:
    """Measure retrieval quality on a BEIR or M-BEIR dataset (metrics, modality bias).

    Search is exhaustive (exact) unless --ann is given; the ANN path's recall against
    exact search is then reported.
    """
    from polyseek.cli.progress import RichEvalProgress
    from polyseek.eval import EvalConfig, evaluate, load_dataset, write_json, write_report

    config = EvalConfig(
        encoders=tuple(encoder or ["minilm"]),
        ranking=ranking,
        image_weight=image_weight,
        instructions=_instructions(instruction or []),
        depth=depth,
        pools=tuple(pool or ["local", "union"]),
    )
    dataset = load_dataset(fmt, path, split=split)
    with RichEvalProgress(err) as progress:
        result = evaluate(dataset, config, progress=progress)
    _print_result(dataset.name, result, config.share_k)
    if json_out is not None:
        write_json(result, json_out)
        out.print(f"JSON: {json_out}")
    if report is not None:
        page = write_report(result, report)
        out.print(f"report: {page}")


def _instructions(items: list[str]) -> tuple[tuple[str, str], ...]:
    """``TASK=TEXT`` options as (task, prefix) pairs."""
    pairs = []
    for item in items:
        task, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"bad --instruction {item!r}", hint="write TASK=TEXT or *=TEXT")
        pairs.append((task, text))
    return tuple(pairs)


def _table(title: str, names: tuple[str, ...], numbers: tuple[str, ...]) -> Table:
    """Name columns wrap (folding a long word); number columns never do."""
    table = Table(title=title)
    for col in names:
        table.add_column(col, justify="left", overflow="fold")
    for col in numbers:
        table.add_column(col, justify="right", no_wrap=True)
    return table


def _print_table(table: Table) -> None:
    """Print ``table`` at least as wide as its numbers need, even at 80 columns or piped:
    Rich would otherwise cut values to ``0.83…``; names wrap to make room first."""
    from rich.measure import Measurement
    from rich.segment import Segments

    need = Measurement.get(out, out.options.update_width(10_000), table).minimum
    if need <= out.width:
        out.print(table)
    else:  # wider than the console: rendered at the width needed (print would clamp it)
        out.print(Segments(out.render(table, out.options.update_width(need))))


def _print_result(name: str, result: dict[str, Any], share_k: int) -> None:
    """Per-pool tables of the metrics, then the ANN / first-pass recall lines."""
    share_key = f"target_share@{share_k}"
    for pool_name, data in sorted(result["pools"].items()):
        tasks = data["tasks"]
        if tasks and all(v.get("same_as") for v in tasks.values()):
            out.print(f"{name}: {pool_name} pool: the {tasks[next(iter(tasks))]['same_as']} pool")
            continue
        table = _table(
            f"{name}: {pool_name} pool",
            ("task",),
            (
                "queries",
                "hit@1",
                "hit@10",
                "recall@10",
                "ndcg@10",
                "mrr@10",
                "map",
                f"share@{share_k}",
            ),
        )
        skipped = []
        for task, v in sorted(tasks.items()):
            if "metrics" not in v:
                table.add_row(f"{task} {v['name']}", "-", "[red]skipped[/]")
                skipped.append(f"task {task} {v['name']} skipped: {v['error']}")
                continue
            m = v["metrics"]
            table.add_row(
                f"{task} {v['name']}",
                str(v["queries"]),
                *(f"{m[k]:.4f}" for k in ("hit@1", "hit@10", "recall@10", "ndcg@10", "mrr@10")),
                f"{m['map']:.4f}",
                f"{v[share_key]:.3f}",
            )
        _print_table(table)
        for line in skipped:
            out.print(f"[yellow]{escape(line)}[/]")
    if "ann" in result:
        where = f" ({result['ann']['pool']} pool)" if "pool" in result["ann"] else ""
        out.print(
            f"ANN recall@10 against exact search{where}: {result['ann']['recall@10_vs_exact']}"
        )
    if "first_pass" in result:
        fp = result["first_pass"]
        where = f" ({fp['pool']} pool)" if "pool" in fp else ""
        out.print(
            f"first pass {fp['spec']} (oversample {fp['oversample']}) recall@10 against exact "
            f"search{where}: {fp['recall@10_vs_exact']}"
        )


def _read_result(path: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(data, dict) or "pools" not in data:
        raise ConfigError(
            f"{path}: not a polyseek eval result", hint="write one with `polyseek eval ... --json`"
        )
    return data


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def compare_command(
    base: Annotated[Path, typer.Argument(help="Baseline result (polyseek eval --json).")],
    other: Annotated[Path, typer.Argument(help="Result to compare against the baseline.")],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help="Metric to test (repeatable; default hit@1/5/10, mrr@10, ndcg@10, "
            "target_share@10)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the randomisation and bootstrap.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the tests here.")] = None,
) -> None:
    """Paired significance tests of two eval results on the same dataset, per task."""
    import json

    from polyseek.eval.compare import ALPHA, DEFAULT_METRICS, compare

    found = compare(
        _read_result(base),
        _read_result(other),
        metrics=tuple(metric or DEFAULT_METRICS),
        seed=seed,
        labels=(str(base), str(other)),
    )
    table = _table(
        f"{other.name} against {base.name} (paired, per query)",
        ("pool", "task", "metric"),
        ("base", "other", "delta", "+/-", "p", "p (Holm)"),
    )
    for d in found:
        mark = "" if not d.significant else ("[green]" if d.delta > 0 else "[red]")
        table.add_row(
            d.pool,
            d.task,
            d.metric,
            f"{d.base:.4f}",
            f"{d.other:.4f}",
            f"{mark}{d.delta:+.4f}",
            f"{d.better}/{d.worse}",
            _p(d.p),
            f"{mark}{_p(d.p_holm)}",
        )
    _print_table(table)
    out.print(
        f"+/-: queries scored higher/lower. hit@k: exact McNemar test; other metrics: paired "
        f"randomisation test. Coloured: significant at {ALPHA} after Holm's adjustment over "
        f"all {len(found)} tests."
    )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps([d.to_dict() for d in found], indent=2) + "\n", encoding="utf-8"
        )
        out.print(f"JSON: {json_out}")
