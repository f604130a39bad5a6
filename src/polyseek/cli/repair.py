"""`polyseek check` and `polyseek repair`: verify a damaged index and bring it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from polyseek.cli.options import CollectionOpt, JsonOpt, StoreOpt, err, out


def _print_findings(findings: list, limit: int = 5) -> None:
    for f in findings:
        kind = "derived" if f.derived else "damaged"
        out.print(f"  [red]{kind}[/] {escape(f.part)}: {escape(f.problem)}", highlight=False)
        if f.sources:
            shown = ", ".join(f.sources[:limit]) + (" ..." if len(f.sources) > limit else "")
            out.print(f"    files: {escape(shown)}", highlight=False)


def check_command(
    collection: CollectionOpt = None, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Verify every table, version and index of the index, and that their counts agree.

    Changes nothing; exit code 1 when something is damaged (then run `polyseek repair`).
    """
    from polyseek.maintenance import check_index

    report = check_index(collection, store=store)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(f"index  {escape(report.store)}")
        for name, t in report.tables.items():
            state = "[green]ok[/]" if t.ok else "[red]damaged[/]"
            rows = "?" if t.rows is None else str(t.rows)
            out.print(f"  table {name:<14} {state}  version {t.version}  {rows} rows")
        if report.counts:
            c = report.counts
            items = ", ".join(f"{n} {m}" for m, n in sorted(c["items"].items())) or "none"
            vectors = ", ".join(f"{n} {s}" for s, n in c["vectors"].items())
            out.print(f"  sources {c['sources']} indexed, {c['failed']} failed; items {items}")
            out.print(f"  vectors {vectors}")
        if report.ok:
            out.print("[green]the index is intact[/]")
        else:
            out.print(f"[red]{len(report.findings)} problem(s):[/]")
            _print_findings(report.findings)
    if not report.ok:
        from polyseek.store.guard import repair_command as repair_line

        err.print(f"[yellow]hint:[/] run `{escape(repair_line(Path(report.store)))}`")
        raise typer.Exit(1)


def repair_command(
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    ocr: Annotated[bool, typer.Option(help="OCR images and scanned PDF pages.")] = True,
    asr: Annotated[
        str, typer.Option(help="Speech to text for re-indexed audio and video (see `index`).")
    ] = "pocketsphinx",
    as_json: JsonOpt = False,
) -> None:
    """Bring a damaged index back: roll tables back to their last intact version, re-index
    the affected files from the collection, rebuild derived indexes."""
    from polyseek.cli.progress import RichProgress
    from polyseek.ingest import IngestOptions
    from polyseek.maintenance import repair_index

    report = repair_index(
        collection,
        store=store,
        options=IngestOptions(ocr=ocr, asr=asr),
        progress=RichProgress(err),
    )
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        for action in report.actions or ["the tables were intact"]:
            out.print(f"  {escape(action)}", highlight=False)
        if report.index is not None:
            r = report.index
            out.print(
                f"  re-indexed: {r.added} added, {r.updated} updated, {r.removed} removed, "
                f"{len(r.failed)} failed; {r.items} items"
            )
        if report.ok:
            out.print("[green]repaired: the index is intact[/]")
        else:
            out.print("[red]still damaged after repair:[/]")
            _print_findings(report.after.findings if report.after else [])
    if not report.ok:
        raise typer.Exit(1)
