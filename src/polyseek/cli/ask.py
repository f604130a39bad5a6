"""`polyseek ask`: an answer from the collection, every sentence cited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from polyseek.cli.options import CollectionOpt, JsonOpt, StorageOpt, StoreOpt, out, ranking_options
from polyseek.errors import ConfigError
from polyseek.rag.defaults import DEFAULT_SUPPORT, DEFAULT_THRESHOLD
from polyseek.search.base import Ranking
from polyseek.store.uri import parse_storage_options


def _load_examples(path: Path) -> list:
    from polyseek.rag import FewShotExample

    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the examples file ({exc.strerror})") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(FewShotExample(str(row["question"]), str(row["answer"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{n}: want a JSON object with 'question' and 'answer' ({exc})"
            ) from exc
    return examples


@ranking_options
def ask_command(
    question: Annotated[str, typer.Argument(help="The question.")],
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="Evidence items to retrieve.")] = 8,
    generator: Annotated[
        str, typer.Option(help="extractive (offline), openai:MODEL or transformers:PATH.")
    ] = "extractive",
    base_url: Annotated[
        str | None, typer.Option(help="Base URL of an OpenAI-compatible endpoint (…/v1).")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Below this answer score of the best sentence: no answer.")
    ] = DEFAULT_THRESHOLD,
    support: Annotated[
        float, typer.Option(help="Post-check: min support of a generated sentence by its citation.")
    ] = DEFAULT_SUPPORT,
    nli: Annotated[
        str | None,
        typer.Option(help="Post-check also with this local NLI cross-encoder (a folder)."),
    ] = None,
    flag: Annotated[
        bool,
        typer.Option("--flag", help="Keep unsupported sentences, flagged, instead of dropping."),
    ] = False,
    examples: Annotated[
        Path | None, typer.Option(help="JSONL of few-shot {question, answer} examples.")
    ] = None,
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    storage_option: StorageOpt = None,
    as_json: JsonOpt = False,
    *,
    ranking: Ranking,
) -> None:
    """Answer a question from the collection, citing file and page/time on every sentence."""
    from polyseek.engine import Engine
    from polyseek.rag import ask, load_generator

    engine = Engine.open(
        collection, store=store, storage_options=parse_storage_options(storage_option)
    )
    answer = ask(
        engine,
        question,
        top=top,
        generator=load_generator(generator, base_url=base_url),
        threshold=threshold,
        support_threshold=support,
        policy="flag" if flag else "drop",
        examples=_load_examples(examples) if examples else None,
        ranking=ranking,
        nli=nli,
    )
    if as_json:
        out.print_json(json.dumps(answer.to_dict()))
        return
    if not answer.answered:
        out.print("[bold]No answer in the collection.[/]")
    for sentence in answer.sentences:
        refs = "".join(f"[{c}]" for c in sentence.citations)
        mark = "" if sentence.supported else " [yellow](unsupported)[/]"
        out.print(f"{escape(sentence.text)} [cyan]{escape(refs)}[/]{mark}", highlight=False)
    # Each citation points at the cited sentence itself: its file and its own span.
    references = dict.fromkeys(
        (span.evidence_id, span.source, str(span.locator))
        for sentence in answer.sentences
        for span in sentence.spans
    )
    if references:
        out.print()
    for c, source, where in references:
        out.print(f"[cyan]\\[{c}][/] [green]{escape(source)}[/] [dim]{escape(where)}[/]")
    if answer.dropped:
        out.print(
            f"[yellow]{len(answer.dropped)} sentence(s) dropped: unsupported by their citations[/]"
        )
