"""`polyseek` commands: index, search, status, remove, models (and, in their own modules,
ask, serve, check, repair, eval, compare)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from polyseek.cli.explain import explanation
from polyseek.cli.options import (
    CollectionOpt,
    ExplainOpt,
    ImageWeightOpt,
    JsonOpt,
    StorageOpt,
    StoreOpt,
    err,
    out,
    ranking_options,
)
from polyseek.errors import PolyseekError
from polyseek.search.base import Ranking
from polyseek.store.uri import parse_storage_options
from polyseek.types import SearchResult


class _Clock:
    """When the command started: run as a program (:func:`main`), from this module's import
    (the CLI's own imports count); invoked in-process (tests), from the call."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.from_import = False

    def restart(self) -> None:
        if not self.from_import:
            self.t0 = time.perf_counter()
        self.from_import = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


_clock = _Clock()  # the summary of `index` counts start-up time too

# Model loading draws its own progress bars; the CLI draws ours only.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class _Group(TyperGroup):
    """Turns polyseek errors into a clear message and exit code 2, for every command."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except PolyseekError as exc:
            err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                err.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False)
            raise typer.Exit(2) from None
        except OSError as exc:  # a path argument the system refuses (too long, a loop)
            name = str(exc.filename or "")
            shown = name if len(name) <= 80 else name[:77] + "..."
            err.print(f"[bold red]error:[/] {escape(shown)}: {escape(exc.strerror or str(exc))}")
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    name="polyseek",
    help="Index folders of text, images, PDFs, video and audio and search them by text, "
    "image or video clip, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted: a process that runs
    several commands (Typer's CliRunner swaps stderr per run, then closes it) must not
    log into a closed stream ("--- Logging error ---" and a traceback in the output)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host's own logging set-up is kept
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
    for noisy in ("httpx", "sentence_transformers", "transformers", "urllib3", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@app.callback()
def _main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logs.")] = 0,
) -> None:
    _clock.restart()
    _setup_logging(verbose)


@app.command()
def index(
    directory: Annotated[Path, typer.Argument(help="Folder of sources to index.")],
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    encoder: Annotated[
        list[str] | None,
        typer.Option(
            "--encoder",
            "-e",
            help="Encoder spec, repeatable (default: minilm). e.g. clip:/models/clip-b32",
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Drop the index and re-embed everything (e.g. new encoders).")
    ] = False,
    ocr: Annotated[bool, typer.Option(help="OCR images and scanned PDF pages.")] = True,
    asr: Annotated[
        str,
        typer.Option(
            help="Speech to text for audio and video: pocketsphinx (offline, rough), "
            "whisper:/path/to/model (accurate), or none."
        ),
    ] = "pocketsphinx",
    as_json: JsonOpt = False,
    batch_files: Annotated[
        int, typer.Option(min=1, hidden=True, help="Files per atomic commit.")
    ] = 256,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Read and embed on Ray: local (a Ray instance for the run), auto (this "
            "machine's cluster) or ray://HOST:PORT. Needs polyseek[ray].",
        ),
    ] = None,
) -> None:
    """Index a folder: add new files, re-index changed ones, remove deleted ones."""
    if not directory.exists():
        raise PolyseekError(f"{directory}: no such folder")
    if not directory.is_dir():
        raise PolyseekError(f"{directory}: not a folder")
    engine = _open_for_indexing(
        directory, store, parse_storage_options(storage_option), encoder, rebuild
    )
    report = _run_index(engine, ocr, asr, batch_files, ray)
    _print_index_report(report, _clock.elapsed(), as_json)
    if report.failed:
        raise typer.Exit(1)


def _open_for_indexing(
    directory: Path,
    store: str | None,
    storage_options: dict[str, str] | None,
    encoders: list[str] | None,
    rebuild: bool,
) -> Any:
    """The engine, with a spinner while imports and models take their seconds."""
    with err.status("starting polyseek") as spinner:
        from polyseek.engine import Engine
        from polyseek.hub import report_model_loads

        spinner.update("opening the index")
        with report_model_loads(lambda name: spinner.update(f"loading model {name}")):
            return Engine.open(
                directory,
                store=store,
                storage_options=storage_options,
                encoders=encoders,
                create=True,
                rebuild=rebuild,
            )


def _run_index(engine: Any, ocr: bool, asr: str, batch_files: int, ray: str | None) -> Any:
    from polyseek.cli.progress import RichProgress
    from polyseek.ingest import IngestOptions

    executor = None
    if ray is not None:
        from polyseek.indexing_ray import RayExecutor

        executor = RayExecutor(ray)
    try:
        return engine.index(
            progress=RichProgress(err),
            options=IngestOptions(ocr=ocr, asr=asr),
            batch_files=batch_files,
            executor=executor,
        )
    finally:
        if executor is not None:
            executor.shutdown()


def _print_index_report(report: Any, total_s: float, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps({**report.to_dict(), "total_seconds": round(total_s, 3)}))
        return
    out.print(
        f"[bold]{report.added}[/] added, [bold]{report.updated}[/] updated, "
        f"{report.unchanged} unchanged, {report.removed} removed, "
        f"[bold red]{len(report.failed)}[/] failed; {report.items} items "
        f"in {total_s:.1f} s (start-up {max(total_s - report.seconds, 0.0):.1f} s)"
    )
    for path, reason in report.failed:
        out.print(f"  [red]failed[/] {escape(path)}: {escape(reason)}")
    for path, note in report.notes:
        out.print(f"  [yellow]partly[/] {escape(path)}: {escape(note)}")


@app.command()
@ranking_options
def search(
    query: Annotated[str | None, typer.Argument(help="Text query.")] = None,
    image: Annotated[Path | None, typer.Option("--image", "-i", help="Query image.")] = None,
    video: Annotated[
        Path | None, typer.Option("--video", help="Query video clip (matched by its keyframes).")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Text modifier for an image query.")
    ] = None,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many results.")] = 10,
    modality: Annotated[
        list[str] | None,
        typer.Option(
            "--modality",
            "-m",
            help="Only these modalities: text, image, page, video, audio (repeat -m, or "
            "a comma list: -m image,page).",
        ),
    ] = None,
    image_weight: ImageWeightOpt = 0.5,
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    as_json: JsonOpt = False,
    explain: ExplainOpt = False,
    server: Annotated[
        bool,
        typer.Option(
            "--server/--no-server",
            help="Ask the `polyseek serve` running for this index, if any (text queries; "
            "or set $POLYSEEK_NO_SERVER=1).",
        ),
    ] = True,
    *,
    ranking: Ranking,
) -> None:
    """Search by text, by image (--image), or both (--image FILE --text "in blue").

    A text query goes to the `polyseek serve` running for the same index when there is
    one (one HTTP round trip, the same results); otherwise the index is searched here.
    """
    if image is not None and video is not None:
        raise PolyseekError("give --image or --video, not both")
    image = image if image is not None else video
    if text is not None and image is None:
        raise PolyseekError(
            "--text modifies an image query, and there is no --image or --video",
            hint='give the words as the query itself: polyseek search "WORDS"',
        )
    words = query if query is not None else text
    if query is not None and text is not None:
        words = f"{query} {text}"
    modality = [m.strip() for value in modality or [] for m in value.split(",") if m.strip()]
    if words is None and image is None:
        raise PolyseekError("give a text query, --image FILE, or both")
    result = None
    if image is None and words is not None and server:
        from polyseek.cli.warm import search_via_server, server_disabled

        if not server_disabled():
            result = search_via_server(
                collection, store, words, top=top, modality=modality or None, ranking=ranking
            )
    if result is None:
        from polyseek.engine import Engine

        engine = Engine.open(
            collection, store=store, storage_options=parse_storage_options(storage_option)
        )
        result = engine.search(
            words,
            image=image,
            top=top,
            modality=modality or None,
            image_weight=image_weight,
            ranking=ranking,
        )
    print_result(result, as_json, explain)


def print_result(result: SearchResult, as_json: bool, explain: bool = False) -> None:
    """A search result as ``polyseek search`` prints it (local or through a server)."""
    if as_json:
        print(result.to_json(indent=2))
        return
    if not result.hits:
        out.print("no results")
        return
    for h in result.hits:
        out.print(
            f"[bold]{h.rank:>2}.[/] {h.score:.4f} [cyan]{h.modality:<5}[/] "
            f"[green]{escape(h.source)}[/] [dim]{escape(str(h.locator))}[/]"
        )
        if h.snippet:
            out.print(f"     {escape(h.snippet)}", highlight=False)
        if explain:
            out.print(explanation(h), highlight=False)


@app.command()
def status(
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what is indexed, with which encoders, and which files failed."""
    from polyseek.engine import Engine

    st = Engine.open(
        collection, store=store, storage_options=parse_storage_options(storage_option)
    ).status()
    if as_json:
        out.print_json(json.dumps(st.to_dict()))
        return
    out.print(f"collection  {escape(st.root)}\nindex       {escape(st.store)}")
    out.print(f"size        {st.disk_bytes / 1e6:.1f} MB")
    for key, ann in st.to_dict()["ann"].items():  # on-disk ANN indexes (large tables)
        out.print(
            f"ann         {escape(key)}: {ann['index_type']} over {ann['rows']} rows, "
            f"recall@10 {ann['recall_at_10']:.3f} (nprobes {ann['nprobes']}, "
            f"refine x{ann['refine_factor']})"
        )
    table = Table("encoder", "kind", "dim", "metric")
    table.add_column("revision", overflow="fold")  # whole: a cut revision names another
    table.add_column("state")  # ready, or how far a backfill is (`polyseek encoders`)
    for e in st.encoders:
        state = e.get("state", "ready")
        if "backfill" in e:
            state += f" {e['backfill']['done']}/{e['backfill']['total']}"
        table.add_row(e["spec"], e["kind"], str(e["dim"]), e["metric"], e["revision"], state)
    out.print(table)
    items = ", ".join(f"{n} {m}" for m, n in sorted(st.items.items())) or "none"
    out.print(f"sources     {st.sources} indexed, {len(st.failed)} failed\nitems       {items}")
    for path, reason in st.failed:
        out.print(f"  [red]failed[/] {escape(path)}: {escape(reason)}")


@app.command()
def remove(
    path: Annotated[Path, typer.Argument(help="File or folder to drop from the index.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Allow PATH to be the whole collection (empties it).")
    ] = False,
) -> None:
    """Remove a file, or everything under a folder, from the index (files stay on disk)."""
    from polyseek.engine import Engine

    engine = Engine.open(
        collection, store=store, storage_options=parse_storage_options(storage_option)
    )
    n = engine.remove(path, everything=everything)
    out.print(f"removed {n} source{'s' if n != 1 else ''} from the index")


@app.command()
def models() -> None:
    """List the encoder backends that can be named in --encoder (aliases and backends
    whose packages are missing are marked)."""
    from polyseek.encoders import DEFAULT_TEXT_ENCODER, encoder_backends

    rows = encoder_backends()
    width = max(len(b.name) for b in rows)
    for b in rows:
        notes = []
        if b.name == DEFAULT_TEXT_ENCODER:
            notes.append("default text encoder")
        if b.alias_of:
            notes.append(f"alias of {b.alias_of}")
        if b.missing:
            needs = f"needs {', '.join(b.missing)}: {b.install_hint}"
            notes.append(f"[red]not installed[/] ({escape(needs)})")
        out.print(f"{b.name:<{width}}  {'; '.join(notes)}".rstrip(), highlight=False)


from polyseek.cli.ask import ask_command  # noqa: E402  (registered commands, own modules)
from polyseek.cli.repair import check_command, repair_command  # noqa: E402
from polyseek.cli.serve import serve  # noqa: E402

app.command("ask")(ask_command)
app.command("serve")(serve)
app.command("check")(check_command)
app.command("repair")(repair_command)

from polyseek.cli.encoders import encoders_app  # noqa: E402
from polyseek.cli.eval import compare_command, eval_command  # noqa: E402
from polyseek.cli.label import label_app  # noqa: E402

app.add_typer(encoders_app, name="encoders")

app.command("eval")(eval_command)
app.command("compare")(compare_command)
app.add_typer(label_app, name="label")


def main() -> None:
    _clock.from_import = True
    app()
