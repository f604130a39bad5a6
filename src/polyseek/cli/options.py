"""Options the commands share, declared once.

The ranking options of ``search``, ``eval`` and ``ask`` are not written here: they are
made from the fields of :class:`polyseek.search.base.Ranking` (help, bounds, choices) by
:func:`ranking_options`, so the command line always matches the Python API and REST.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from polyseek.search.base import Ranking, field_default, ranking_fields

F = TypeVar("F", bound=Callable[..., Any])

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

CollectionOpt = Annotated[
    Path | None,
    typer.Option(
        "--collection",
        "-c",
        help="Collection folder (default: $POLYSEEK_COLLECTION or the nearest .polyseek above).",
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Index location: a folder or an object-store URI, s3://BUCKET/PREFIX, gs://, "
        "az:// (default: <collection>/.polyseek).",
    ),
]
StorageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--storage-option",
        help="KEY=VALUE for an object-store --store, repeatable: endpoint, region, "
        "allow_http (credentials come from the environment).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ExplainOpt = Annotated[
    bool,
    typer.Option(
        "--explain",
        help="Show each signal's part of every hit's score (lexical, each encoder, "
        "calibration, reranker); they sum to the score. --json always carries them.",
    ),
]
ImageWeightOpt = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Image share in image+text queries.")
]

_CLI_TYPES: dict[str, Any] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "bool | None": bool | None,
}


def _cli_type(declared: str) -> Any:
    """The command-line type of a Ranking field (objects such as a Reranker: their spec)."""
    if declared in _CLI_TYPES:
        return _CLI_TYPES[declared]
    if declared.endswith("| None"):
        return str | None
    raise TypeError(f"no command-line type for a Ranking field of type {declared}")


def _ranking_parameters() -> list[inspect.Parameter]:
    params = []
    for f in ranking_fields():
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        decls = [meta["flag"]] if meta.get("flag") else []
        kwargs: dict[str, Any] = {"help": meta["help"], "rich_help_panel": "Ranking"}
        if meta.get("ge") is not None:
            kwargs["min"] = meta["ge"]
        if meta.get("le") is not None:
            kwargs["max"] = meta["le"]
        option = typer.Option(*decls, **kwargs)
        kind = Literal[meta["choices"]] if meta.get("choices") else _cli_type(str(f.type))
        annotation = Annotated[kind, option]  # type: ignore[valid-type]
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field_default(f),
                annotation=annotation,
            )
        )
    return params


def ranking_options(command: F) -> F:
    """Give ``command(..., ranking: Ranking)`` one CLI option per :class:`Ranking` field.

    The options are collected into a validated :class:`Ranking` passed as ``ranking``.
    """
    sig = inspect.signature(command, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "ranking"]
    extra = _ranking_parameters()
    names = [p.name for p in extra]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = {n: kwargs.pop(n) for n in names if n in kwargs}
        kwargs["ranking"] = Ranking.from_options(options)
        return command(*args, **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper  # type: ignore[return-value]


__all__ = [
    "CollectionOpt",
    "ExplainOpt",
    "ImageWeightOpt",
    "JsonOpt",
    "StorageOpt",
    "StoreOpt",
    "err",
    "out",
    "ranking_options",
]
