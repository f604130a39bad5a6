"""`polyseek encoders add|upgrade|backfill|remove|status`: change the models of a live index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from polyseek.cli.options import CollectionOpt, JsonOpt, StoreOpt, err, out

if TYPE_CHECKING:
    from polyseek.engine import Engine
    from polyseek.lifecycle.backfill import BatchCallback

encoders_app = typer.Typer(
    help="Add, upgrade or remove the encoders of an index without rebuilding it.",
    no_args_is_help=True,
)

BackgroundOpt = Annotated[
    bool,
    typer.Option(
        "--background",
        help="Run the backfill in a detached process (log in <index>/lifecycle/backfill.log); "
        "search meanwhile, `polyseek encoders status` shows how far it is.",
    ),
]


def _engine(collection: Path | None, store: str | None) -> Engine:
    from polyseek.engine import Engine

    return Engine.open(collection, store=store)


class _Bar:
    """A backfill progress bar on stderr (silent when not a terminal)."""

    def __init__(self) -> None:
        self._bar: Progress | None = None

    def __enter__(self) -> _Bar:
        if err.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]backfill {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def callback(self, spec: str) -> BatchCallback:
        task = None if self._bar is None else self._bar.add_task(spec, total=None)

        def report(done: int, total: int) -> None:
            if self._bar is not None and task is not None:
                self._bar.update(task, completed=done, total=total)

        return report


def _run_backfill(
    engine: Engine, spec: str | None, background: bool, batch_items: int | None = None
) -> None:
    from polyseek.lifecycle import backfill

    if background:
        _detach(engine, spec)
        return
    with _Bar() as bar:
        done = backfill(engine.collection, spec, on_batch=bar.callback, batch_items=batch_items)
    for p in done:
        state = "complete" if p.complete else "stopped"
        out.print(f"backfill of {escape(p.spec)}: {p.done}/{p.total} items, {state}")


def _detach(engine: Engine, spec: str | None) -> None:
    """Start `polyseek encoders backfill` in its own session, outliving this one."""
    folder = engine.store.path / "lifecycle"
    folder.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "polyseek", "-v", "encoders", "backfill"]
    cmd += ["--store", str(engine.store.path), *([spec] if spec else [])]
    with open(folder / "backfill.log", "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    out.print(
        f"backfill running in the background (pid {proc.pid}); "
        "`polyseek encoders status` shows how far it is"
    )


@encoders_app.command("add")
def add(
    spec: Annotated[str, typer.Argument(help="Encoder spec, e.g. clip:/models/clip-b32.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    background: BackgroundOpt = False,
) -> None:
    """Add an encoder to the index and embed every item with it (incremental, resumable)."""
    from polyseek.lifecycle import add_encoder

    engine = _engine(collection, store)
    info = add_encoder(engine.collection, spec)
    out.print(f"added {escape(info.spec)} ({info.kind}, dim {info.dim})")
    _run_backfill(engine, info.spec, background)


@encoders_app.command("backfill")
def backfill_command(
    spec: Annotated[str | None, typer.Argument(help="One encoder (default: all pending).")] = None,
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    background: BackgroundOpt = False,
    batch_items: Annotated[
        int | None, typer.Option(min=1, hidden=True, help="Items per written batch.")
    ] = None,
) -> None:
    """Run or resume pending backfills; a finished upgrade switches to the new vectors."""
    _run_backfill(_engine(collection, store), spec, background, batch_items)


@encoders_app.command("upgrade")
def upgrade(
    old: Annotated[str, typer.Argument(help="The encoder the index has.")],
    new: Annotated[str, typer.Argument(help="The encoder to move to.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    sample: Annotated[int, typer.Option(min=10, help="Items embedded to fit the adapter.")] = 5000,
    min_retention: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Refuse below this held-out recall@10 retention."),
    ] = 0.9,
    keep_old: Annotated[bool, typer.Option(help="Keep OLD's vectors after the switch.")] = False,
    background: BackgroundOpt = False,
    no_backfill: Annotated[
        bool, typer.Option("--no-backfill", help="Fit the adapter only; backfill later.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Query with NEW at once through an adapter into OLD's vectors; backfill NEW, then
    switch to its own vectors (OLD's are dropped unless --keep-old)."""
    from polyseek.lifecycle import upgrade_encoder

    engine = _engine(collection, store)
    report = upgrade_encoder(
        engine.collection,
        old,
        new,
        sample=sample,
        min_retention=min_retention,
        keep_old=keep_old,
    )
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        checks = ", ".join(f"{k} {v:.3f}" for k, v in report.checks.items())
        out.print(
            f"adapter {escape(report.new)} -> {escape(report.old)}: {report.method}"
            f"{f' rank {report.rank}' if report.rank else ''}, held-out recall@10 retention "
            f"{report.retention:.3f} ({checks}; {report.test_items} test items, fitted on "
            f"{report.fit_rows} rows in {report.fit_seconds:.2f} s)"
        )
        if report.known_item:
            k = report.known_item
            out.print(
                f"a passage finds its own item in the top 10 for {k['adapter']:.3f} of test "
                f"items through the adapter ({k['new']:.3f} with NEW's own vectors)"
            )
        out.print("queries now use the new encoder through the adapter")
    if not no_backfill:
        _run_backfill(engine, report.new, background)


@encoders_app.command("remove")
def remove(
    spec: Annotated[str, typer.Argument(help="The encoder to drop, with its vectors.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
) -> None:
    """Drop an encoder and its vectors from the index."""
    from polyseek.lifecycle import remove_encoder

    remove_encoder(_engine(collection, store).collection, spec)
    out.print(f"removed {escape(spec)}")


@encoders_app.command("status")
def status(
    collection: CollectionOpt = None, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Each encoder's state: ready, backfilling (how far), or being upgraded (adapter)."""
    from polyseek.lifecycle import encoders_status

    rows = encoders_status(_engine(collection, store).collection)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("encoder", "kind", "dim", "state", "progress")
    for row in rows:
        table.add_row(row["spec"], row["kind"], str(row["dim"]), row["state"], _progress(row))
    out.print(table)


def _progress(row: dict[str, Any]) -> str:
    parts = []
    if "backfill" in row:
        b = row["backfill"]
        parts.append(f"{b['done']}/{b['total']} items ({100 * b['fraction']:.0f}%)")
    if "adapter" in row:
        a = row["adapter"]
        parts.append(f"queries via {a['method']} adapter (retention {a['retention']:.3f})")
    return "; ".join(parts)


__all__ = ["encoders_app"]
